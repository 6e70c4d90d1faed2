"""Scenario files (powersim.config): loading, `--set` overrides, every error a
user can make, and `powersim params`."""

import json
import pathlib
import subprocess
import sys

import attrs
import pytest

from powersim.cli import main
from powersim.config import (SECTIONS, ConfigError, Scenario, load_scenario, method_names,
                             parse_size)
from powersim.kernel.params import KernelParams
from powersim.machine.params import MachineParams

WORKLOADS = pathlib.Path(__file__).resolve().parent.parent / "workloads"


def scenario_file(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", sorted(WORKLOADS.glob("*.toml")), ids=lambda p: p.name)
def test_example_files_load_and_round_trip(path):
    sc = load_scenario(path)
    d = sc.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) == set(SECTIONS)
    # the resolved dict rebuilds the same scenario
    again = Scenario(MachineParams(**d["machine"]),
                     KernelParams(**d["kernel"]), type(sc.workload)(**d["workload"]))
    assert again == sc


def test_seed_scenario_values():
    sc = load_scenario(WORKLOADS / "seed-munmap-496g.toml")
    assert sc.machine.chips * sc.machine.cores_per_chip * sc.machine.smt == 128
    assert sc.workload.memory == 496 << 30 and sc.workload.vcpus == 128
    assert sc.kernel.method == "ipi" and sc.workload.base_page == 64 << 10


def test_defaults_and_errata_follow_the_machine(tmp_path):
    sc = load_scenario(scenario_file(tmp_path, "[machine]\nerratum_tlbie_stq = false\n"))
    assert sc.machine == MachineParams(erratum_tlbie_stq=False)
    assert sc.kernel.tlbie_stq_bug is False and sc.kernel.tlbie_erat_bug is True
    assert sc.workload == type(sc.workload)()


@pytest.mark.parametrize("text,value", [("496GiB", 496 << 30), ("2MiB", 2 << 20),
                                        ("64K", 65536), ("4096", 4096), (" 3 TiB ", 3 << 40),
                                        ("10B", 10)])
def test_parse_size(text, value):
    assert parse_size(text) == value


def test_overrides_apply_after_the_file(tmp_path):
    p = scenario_file(tmp_path, "[workload]\nvcpus = 2\n")
    sc = load_scenario(p, ["workload.vcpus=4", "kernel.method=count", "machine.freq_ghz=3",
                           "workload.memory=2GiB", "machine.smt_cost_pct=[100,100,100,100]",
                           "workload.fullmm=true"])
    assert sc.workload.vcpus == 4 and sc.kernel.method == "count"
    assert sc.machine.freq_ghz == 3.0 and isinstance(sc.machine.freq_ghz, float)
    assert sc.workload.memory == 2 << 30 and sc.workload.fullmm is True
    assert sc.machine.smt_cost_pct == (100, 100, 100, 100)


BAD_FILES = [
    ("[machin]\nchips = 1\n", "unknown section [machin] (did you mean 'machine'?)"),
    ("[machine]\ncores_per_chp = 2\n",
     "unknown key machine.cores_per_chp (did you mean 'cores_per_chip'?)"),
    ("[workload]\nvcpu = 2\n", "unknown key workload.vcpu (did you mean 'vcpus'?)"),
    ("[machine]\nchips = \"two\"\n", "machine.chips = 'two': must be an integer"),
    ("[machine]\nfreq_ghz = true\n", "machine.freq_ghz = True: must be a number"),
    ("[kernel]\ntlbie_stq_bug = 1\n", "kernel.tlbie_stq_bug = 1: must be true or false"),
    ("[kernel]\nmethod = 3\n", "kernel.method = 3: must be a string"),
    ("[machine]\nsmt = 5\n", "machine.smt = 5: allowed 1, 2, 4"),
    ("[machine]\nsmt = 3\n", "machine.smt = 3: allowed 1, 2, 4"),
    ("[machine]\nstop_ns = [1, 2]\n", "machine.stop_ns = (1, 2): needs 16 entries"),
    ("[workload]\nmemory = -2\n", "workload.memory = -2: allowed"),
    ("[workload]\nmemory = \"-2MiB\"\n", "workload.memory = '-2MiB': not a size"),
    ("[workload]\nmemory = \"12 parsecs\"\n", "workload.memory = '12 parsecs': not a size"),
    ("[workload]\nmemory = \"3MiB\"\n", "workload.memory = 3145728: must be a multiple"),
    ("[workload]\nbase_page = \"8KiB\"\n", "workload.base_page = 8192: allowed 64KiB, 4KiB"),
    ("[kernel]\nmethod = \"ipii\"\n", "kernel.method = 'ipii': allowed"),
    ("[kernel]\ntlb_single_page_flush_ceiling = -1\n",
     "kernel.tlb_single_page_flush_ceiling = -1: allowed 0..1048576 pages"),
    ("[machine]\ncores_per_chip = 2\n[workload]\nvcpus = 9\n",
     "workload.vcpus = 9: more than the 8 hardware threads"),
    ("[workload]\ngenerator = \"munmap_tlp\"\n",
     "workload.generator = 'munmap_tlp': allowed munmap_thp, vcpus, gup_storm, thp_churn, "
     "ipi_latency, tlb_flush, ipi_idle (did you mean 'munmap_thp'?)"),
    ("[workload]\nvcpu_state = \"gest\"\n",
     "workload.vcpu_state = 'gest': allowed host, guest, idle (did you mean 'guest'?)"),
    ("[kernel]\nipi = \"ipi\"\n", "kernel.ipi = 'ipi': allowed xive, doorbell"),
    ("[kernel]\nidle_states = \"stop0,stop3\"\n", "kernel.idle_states = 'stop0,stop3': "
     "allowed a comma-separated set of stop0_lite, stop0, stop1, stop2, stop4, stop5, stop8, "
     "stop11"),
    ("[kernel]\nhz = 0\n", "kernel.hz = 0: allowed 1..10000 Hz"),
    ("[workload]\ntarget_state = \"stop3\"\n", "workload.target_state = 'stop3': allowed "
     "busy, stop0_lite, stop0, stop1, stop2, stop4, stop5, stop8, stop11"),
    ("[kernel]\nguest_exit_cycles = -5\n", "kernel.guest_exit_cycles = -5: allowed 0..1073741824"),
    ("machine = 3\n", "[machine] = 3: must be a table"),
    ("[machine]\nchips = \n", "TOML syntax error: Invalid value (at line 2, column 9)"),
]


@pytest.mark.parametrize("text,needle", BAD_FILES, ids=[n[:40] for _, n in BAD_FILES])
def test_bad_files_name_key_and_value(tmp_path, text, needle):
    p = scenario_file(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_scenario(p)
    assert needle in str(e.value) and str(p) in str(e.value)


def test_unknown_method_lists_every_method(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_scenario(scenario_file(tmp_path, "[kernel]\nmethod = \"ipii\"\n"))
    assert "did you mean 'ipi'?" in str(e.value)
    assert all(m in str(e.value) for m in method_names())


def test_method_names_are_the_kernel_methods():
    from powersim.kernel import methods   # imports the numba core: only here
    assert set(method_names()) == set(methods.METHODS)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: no such scenario file"):
        load_scenario(tmp_path / "nope.toml")


@pytest.mark.parametrize("override,needle", [
    ("workload.vcpus=-1", "workload.vcpus = -1: allowed 1..65536"),
    ("workload.vcpus", "--set 'workload.vcpus': write section.key=value"),
    ("vcpus=3", "--set 'vcpus=3': write section.key=value"),
    ("workload.vcpu=3", "unknown key workload.vcpu (did you mean 'vcpus'?)"),
    ("workloads.vcpus=3", "unknown section [workloads] (did you mean 'workload'?)"),
    ("kernel.method=robustt", "kernel.method = 'robustt': allowed"),
    ("machine.chips=two", "machine.chips = 'two': must be an integer"),
    ("machine.smt=3", "machine.smt = 3: allowed 1, 2, 4"),
    ("workload.memory=5XB", "workload.memory = '5XB': not a size"),
])
def test_bad_overrides(tmp_path, override, needle):
    p = scenario_file(tmp_path, "")
    with pytest.raises(ConfigError) as e:
        load_scenario(p, [override])
    assert needle in str(e.value)
    # the override is named, except for the method, checked with the whole scenario
    assert str(e.value).startswith(f"--set {override!r}") != override.startswith("kernel.")


def test_config_path_does_not_import_numba():
    # bad input must fail before the numba core is imported, let alone compiled
    code = ("import sys, powersim.config as c\n"
            "c.load_scenario(sys.argv[1], ['kernel.method=count'])\n"
            "try:\n    c.load_scenario(sys.argv[1], ['kernel.method=bogus'])\n"
            "except c.ConfigError:\n    pass\n"
            "else:\n    raise SystemExit('no error')\n"
            "from powersim.cli import main\nmain(['params'])\n"
            "assert 'numba' not in sys.modules, 'numba imported'\n")
    r = subprocess.run([sys.executable, "-c", code, str(WORKLOADS / "example-small.toml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_params_lists_every_field(capsys):
    assert main(["params"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines[1:]]
    expected = [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in attrs.fields(cls)]
    assert names == expected            # each once, in declaration order
    row = next(line for line in lines if line.startswith("workload.memory "))
    assert row.split()[1:4] == ["int", "1GiB", "bytes"] and "source: " in row


def test_params_one_section(capsys):
    assert main(["params", "--section", "kernel"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == [f"kernel.{f.name}" for f in attrs.fields(KernelParams)]


def test_params_bad_section(capsys):
    with pytest.raises(SystemExit) as e:
        main(["params", "--section", "kernal"])
    assert e.value.code == 2 and "invalid choice: 'kernal'" in capsys.readouterr().err
