"""Serialization methods written in C (powersim/kernel/cmethod.py): the C
versions of ``count`` and ``percpu`` in examples/methods/ (Bras v5 and v6,
the patches' functions) and of ``ipi`` (v5.4) against their Builder twins, the calling convention
between the Builder kernel and GCC's code, and the errors a C method can meet.

Why the twins' figures differ (example-small, 8 MiB: four serialize rounds,
no walker):

* ``count.c`` is ~2 % faster: GCC shrink-wraps serialize_against_pte_lookup,
  whose walker-free path is ``sync; lwz; cmpwi; beqlr`` (80 ns a round), where
  the Builder routine always builds and tears down a frame (103 ns).
* ``percpu.c`` is ~9 % slower: its per-CPU counters live in the per-CPU
  areas (DEFINE_PER_CPU, one copy per CPU), lines no CPU has touched before
  the first serialize, which reads them one after the other from DRAM (8 x
  90 ns: its first round takes 1.82 us against 1.08 us); the Builder twin's
  counters sit in the PACAs, already cached.  Later rounds differ by 42 ns
  (GCC's find_next_bit loop and the on-stack cpumask).
* ``ipi.c`` is within 0.1 %: the same 28 IPIs, the round is the kernel's own
  smp_call_function_many either way.

With walkers running (the race workloads) the IPIs ``percpu`` sends depend on
which CPUs are inside a walk at each serialize, so the twins' counts differ
there with the walkers' timing (the C bracket is two calls); the same
counters give the same IPIs (test_same_walkers_get_the_same_ipis).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from powersim import cli
from powersim.config import ConfigError, load_scenario
from powersim.kernel import cmethod, layout
from powersim.kernel.cmethod import CMethodError
from powersim.kernel.layout import LINE, MM_WALKERS, PERCPU_STRIDE
from powersim.kernel.params import KernelParams
from powersim.sim import Simulation

COUNT_C, PERCPU_C = "examples/methods/count.c", "examples/methods/percpu.c"
IPI_C = "examples/methods/ipi.c"
TWINS = {COUNT_C: "count", PERCPU_C: "percpu", IPI_C: "ipi"}
SCENARIO = "workloads/example-small.toml"
SMALL = ["workload.memory=8MiB"]
HAVE_CC = all(shutil.which(t) for t in (cmethod.CC, cmethod.LD, cmethod.AR))
needs_cc = pytest.mark.skipif(not HAVE_CC, reason=f"needs {cmethod.CC} and binutils: "
                              f"{cmethod.INSTALL}")


def simulate(method, extra=()):
    sc = load_scenario(SCENARIO, SMALL + [f"kernel.method={method}", *extra])
    return Simulation(sc, SCENARIO).run(progress=False)


def c_file(tmp_path, body, name="m.c"):
    p = tmp_path / name
    p.write_text("#include <powersim/method.h>\n" + body)
    return str(p)


def kernel(method, k_thps=3):
    from powersim.kernel.image import Kernel
    from powersim.kernel.mm import PMD_SIZE
    return Kernel(thp_bytes=k_thps * PMD_SIZE, cores_per_chip=2,
                  kparams=KernelParams(method=method))


# --- the layouts C sees come from layout.py -------------------------------------------
def test_every_paca_and_mm_field_has_its_c_name():
    bits = {"PACA_IRQ_HARD_DIS", "PACA_IRQ_DBELL", "PACA_IRQ_EE", "PACA_IRQ_DEC"}
    paca = {v for n, v in vars(layout).items() if n.startswith("PACA_")
            and n not in bits and n != "PACA_FIELDS"}
    mm = {v for n, v in vars(layout).items() if n.startswith("MM_") and n != "MM_FIELDS"}
    assert {f[0] for f in layout.PACA_FIELDS} == paca
    assert {f[0] for f in layout.MM_FIELDS} == mm


def test_generated_header_places_each_field_at_its_offset():
    text = cmethod.header(layout.Layout(pirs=range(8)))
    assert "#define NR_CPUS 8" in text
    assert "_Static_assert(offsetof(struct mm_struct, lockless_pgtbl_walkers) == 16" in text
    assert "_Static_assert(offsetof(struct paca_struct, kvm_hstate.host_ipi) == 2" in text


def test_builder_kernel_keeps_nothing_a_c_function_may_clobber():
    """A C hook may clobber CR1/5-7 and XER and set r2: no Builder code names
    cr1-cr7 or reads the carry, and only the interrupt entry touches r2 and XER
    (saving and restoring them)."""
    import re

    from powersim.kernel.image import build_image
    for m in ("ipi", "count", "percpu", "robust", "trim", "none"):
        img = build_image(layout.Layout(pirs=range(8)), "doorbell", KernelParams(method=m))
        texts = [t for _f, _n, t in img.lines.values()]
        assert not [t for t in texts if re.search(r"\bcr[1-7]\b|\b(adde|addze|addme|subfe|"
                                                  r"subfze|subfme)\b", t)]
        assert sorted({t for t in texts if re.search(r"\br2\b|xer", t)}) == \
            ["ld r2,40(r1)", "mfxer r0", "mtxer r0", "std r2,40(r1)"]


# --- config: a .c path is a method, checked before anything is compiled ---------------
def test_config_accepts_a_c_file_and_names_a_bad_one(tmp_path):
    sc = load_scenario(SCENARIO, [f"kernel.method={COUNT_C}"])
    assert sc.kernel.method == COUNT_C
    for value, why in ((str(tmp_path / "nope.c"), "no such file"),
                       (str(tmp_path), "a C method is a file ending in .c")):
        with pytest.raises(ConfigError) as e:
            load_scenario(SCENARIO, [f"kernel.method={value}"])
        msg = str(e.value)
        assert f"kernel.method = {value!r}" in msg and "ipi" in msg and ".c" in msg
        if value.endswith(".c"):
            assert why in msg
    (tmp_path / "dir.c").mkdir()
    with pytest.raises(ConfigError, match="not a file"):
        load_scenario(SCENARIO, [f"kernel.method={tmp_path / 'dir.c'}"])


def test_a_c_path_is_checked_without_numba(tmp_path):
    code = ("import sys, powersim.config as c\n"
            f"c.load_scenario({SCENARIO!r}, ['kernel.method={COUNT_C}'])\n"
            "try:\n    c.load_scenario(sys.argv[1], ['kernel.method=nope.c'])\n"
            "except c.ConfigError:\n    pass\n"
            "else:\n    raise SystemExit('no error')\n"
            "assert 'numba' not in sys.modules, 'numba imported'\n")
    r = subprocess.run([sys.executable, "-c", code, SCENARIO], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr


def test_a_sweep_point_of_an_edited_c_method_is_a_new_point(tmp_path):
    from powersim.sweep import make_points, parse_grid
    path = c_file(tmp_path, "void serialize_against_pte_lookup(struct mm_struct *mm) {}\n")

    def keys():
        grid = parse_grid([f"kernel.method=count,{path}"])
        return [p["key"] for p in make_points(SCENARIO, grid, base=SMALL)]
    before = keys()
    Path(path).write_text(Path(path).read_text() + "/* edited */\n")
    after = keys()
    assert before[0] == after[0] and before[1] != after[1]


def test_missing_compiler_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cmethod._tool_ids.clear()
    try:
        with pytest.raises(CMethodError) as e:
            cmethod.digest(COUNT_C)
    finally:
        cmethod._tool_ids.clear()
    assert cmethod.INSTALL in str(e.value) and cmethod.CC in str(e.value)


# --- the twins ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twin_runs():
    if not HAVE_CC:
        pytest.skip(f"needs {cmethod.CC}: {cmethod.INSTALL}")
    return {m: simulate(m) for m in (*TWINS, *TWINS.values())}


@needs_cc
@pytest.mark.parametrize("c_method", list(TWINS))
def test_c_twin_matches_its_builder_twin(twin_runs, c_method):
    c, b = twin_runs[c_method], twin_runs[TWINS[c_method]]
    for key in ("ipi_sent", "ipi_rounds", "tlbie", "races"):
        assert c.counters[key] == b.counters[key], key
    assert abs(c.op_seconds / b.op_seconds - 1) < 0.25
    print(f"{c_method}: op time {c.op_seconds * 1e6:.3f} us, {TWINS[c_method]} "
          f"{b.op_seconds * 1e6:.3f} us")


@needs_cc
def test_same_walkers_get_the_same_ipis():
    """The count and the per-CPU counters of walkers, set by hand (Builder twin:
    PACA_PERCPU; C: the per-CPU copies of lockless_pgtbl_walk_counter): a munmap
    of 3 THPs sends the same doorbells to the same CPUs."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_methods import munmap, on_cpu0, set_u64
    got = {}
    for method in ("count", COUNT_C):
        k = kernel(method)
        run = on_cpu0(k, [munmap(0, 3)], mm_cpus=range(8),
                      edit=set_u64(k.layout.mm + MM_WALKERS, 1))
        got[method] = run.recv()
    assert got["count"] == got[COUNT_C] == [0] + [3] * 7
    for method in ("percpu", PERCPU_C):
        k = kernel(method)
        if method == PERCPU_C:
            var = k.image.symbols["lockless_pgtbl_walk_counter"]
            addrs = [var + c * PERCPU_STRIDE for c in (1, 6)]
        else:
            addrs = [k.layout.paca(c) + layout.PACA_PERCPU for c in (1, 6)]
        run = on_cpu0(k, [munmap(0, 3)], mm_cpus=range(8),
                      edit=lambda m, a=addrs: [set_u64(x, 1)(m) for x in a])
        got[method] = run.recv()
    assert got["percpu"] == got[PERCPU_C] == [0, 3, 0, 0, 0, 0, 3, 0]


def race_run(method, model="power"):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_races import race_run as run
    races, walks, _gup, _churned, _tr = run(method, model)
    return races, walks


@needs_cc
@pytest.mark.parametrize("c_method", list(TWINS))
def test_c_twins_are_race_free_over_100000_walks(c_method):
    races, walks = race_run(c_method)
    assert races == [] and walks >= 100_000


@needs_cc
def test_a_c_method_that_serializes_nothing_races(tmp_path):
    path = c_file(tmp_path, "void serialize_against_pte_lookup(struct mm_struct *mm) {}\n")
    races, walks = race_run(path)
    assert len(races) >= 1 and walks >= 100_000


def count_nosync(tmp_path):
    """Bras v5 in C with the smp_mb() of begin_lockless_pgtbl_walk removed (the
    C twin of ``kernel.drop_barrier = walker_mb``): a walker's PMD read may then
    be satisfied before its count increment is visible, and a serialize that
    reads a zero count skips the walker (SB)."""
    src = Path(COUNT_C).read_text()
    barrier = "\tsmp_mb();\n\n\treturn irq_mask;"
    assert src.count(barrier) == 1
    path = tmp_path / "count-nosync.c"
    path.write_text(src.replace(barrier, "\treturn irq_mask;"))
    return str(path)


@needs_cc
def test_count_without_its_walker_sync_builds_and_runs(tmp_path):
    """Sequentially consistent (machine.memory_model = sc): the missing smp_mb
    cannot be observed, the churn is race-free over 100,000 walks."""
    races, walks = race_run(count_nosync(tmp_path), "sc")
    assert walks >= 100_000
    assert races == []


@needs_cc
def test_count_without_its_walker_sync_races_under_power(tmp_path):
    """Under the POWER memory model the SB pattern is allowed: in the aimed
    scenario of test_barriers.py (one walker's window swept across the collapse's
    PMD clear) a walker uses a PMD the serialize did not wait for."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_barriers import barrier_run
    races, _ = barrier_run(count_nosync(tmp_path), "none", "power", "collapse")
    assert len(races) >= 1


# --- building ---------------------------------------------------------------------------
@needs_cc
def test_c_code_is_linked_after_the_builder_code_and_called_at_its_local_entry():
    from powersim.kernel.image import dump
    k = kernel(PERCPU_C)
    img, sym = k.image, k.image.symbols
    c_base = min(sym[n] for n in ("serialize_against_pte_lookup", "begin_lockless_pgtbl_walk",
                                  "end_lockless_pgtbl_walk"))
    assert sym["walker_window"] < c_base < layout.C_LIMIT
    var = sym["lockless_pgtbl_walk_counter"]
    assert var % LINE == 0 and var + 8 * PERCPU_STRIDE <= len(img.data)
    lines = dump(img)
    assert "serialize_against_pte_lookup:" in lines and "do_nothing:" in lines
    # _start sets r2 to the TOC pointer; call sites branch past the global entry
    toc = sym["__c_toc"]
    assert toc and any(f"bl {sym['serialize_against_pte_lookup'] + 8:#x}" in line
                       for line in lines)


@needs_cc
def test_objects_are_cached_and_the_image_key_follows_the_source(tmp_path, monkeypatch):
    from powersim.kernel import image_cache
    monkeypatch.setenv("POWERSIM_CACHE", str(tmp_path / "cache"))
    lay = layout.Layout(pirs=range(8))
    path = c_file(tmp_path, "void serialize_against_pte_lookup(struct mm_struct *mm) {}\n")
    first = cmethod.compile_objects(path, lay)
    assert len(list((tmp_path / "cache" / "c-methods").iterdir())) == 2     # .o, .a
    monkeypatch.setattr(cmethod, "_gcc", lambda *a, **k: pytest.fail("compiled again"))
    assert cmethod.compile_objects(path, lay) == first
    kp = KernelParams(method=path)
    key = image_cache.key(lay, "doorbell", kp)
    Path(path).write_text(Path(path).read_text() + "/* edited */\n")
    assert image_cache.key(lay, "doorbell", kp) != key


def build(path):
    from powersim.kernel.image import build_image
    return build_image(layout.Layout(pirs=range(8)), "doorbell", KernelParams(method=path))


@needs_cc
@pytest.mark.parametrize("body,needle", [
    ("void serialize_against_pte_lookup(struct mm_struct *mm) { oops }\n",
     "compiling failed"),
    ("void serialize_against_pte_lookup(struct mm_struct *mm) { nowhere(); }\n",
     "implicit declaration of function 'nowhere'"),
    ("void nowhere(void);\nvoid serialize_against_pte_lookup(struct mm_struct *mm) "
     "{ nowhere(); }\n", "undefined reference to `nowhere'"),
    ("void x(void) {}\n", "defines no serialize_against_pte_lookup"),
    ("METHOD_FLAG(serialize_at_clear, 0);\nMETHOD_FLAG(serialize_at_collapse, 0);\n"
     "unsigned long begin_lockless_pgtbl_walk(struct mm_struct *mm) { return 0; }\n",
     "defines begin_lockless_pgtbl_walk but not end_lockless_pgtbl_walk"),
    ("METHOD_FLAG(fast, 1);\nvoid serialize_against_pte_lookup(struct mm_struct *mm) {}\n",
     "METHOD_FLAG(fast, ...): unknown flag; allowed serialize_at_clear"),
    ("METHOD_FLAG(walker_recheck, 2);\n"
     "void serialize_against_pte_lookup(struct mm_struct *mm) {}\n", "allowed 0 or 1"),
    ("METHOD_FLAG(flush_type_v512, 1);\n"
     "void serialize_against_pte_lookup(struct mm_struct *mm) {}\n",
     "needs tick_and_test_trim_clock, exit_flush_lazy_tlbs, do_exit_flush_lazy_tlb"),
    ("void do_nothing(void *p) {}\nvoid serialize_against_pte_lookup(struct mm_struct *mm) "
     "{ smp_call_function_many(mm_cpumask(mm), do_nothing, 0, 1); }\n",
     "defines do_nothing, already a routine or symbol of the kernel"),
    ("void serialize_against_pte_lookup(struct mm_struct *mm) "
     "{ __asm__ volatile(\"maddld 3,3,4,5\"); }\n",
     "1 instruction(s) powersim does not model (serialize_against_pte_lookup+0x0: maddld"),
    ("DEFINE_PER_CPU(char, big[600]);\n"
     "void serialize_against_pte_lookup(struct mm_struct *mm) { big[0] = 1; }\n",
     "600 bytes of DEFINE_PER_CPU data; allowed at most 512"),
])
def test_a_bad_c_method_is_a_clear_error(tmp_path, body, needle):
    with pytest.raises(CMethodError) as e:
        build(c_file(tmp_path, body))
    assert needle in str(e.value)


@needs_cc
def test_flag_methods_build_with_their_call_sites(tmp_path):
    """serialize_at_clear 0 (v5.8): only the collapse calls the serialize; the
    v5.12 flush decision calls the method's own trim routines; pgtable_free_tlb
    replaces pte_free after the gather's flush."""
    body = ("METHOD_FLAG(serialize_at_clear, 0);\nMETHOD_FLAG(zap_flush_per_pmd, 1);\n"
            "METHOD_FLAG(walker_recheck, 1);\nMETHOD_FLAG(flush_type_v512, 1);\n"
            "void serialize_against_pte_lookup(struct mm_struct *mm) {}\n"
            "void pgtable_free_tlb(pgtable_t t) { tlb_remove_table_deferred(t); }\n"
            "int tick_and_test_trim_clock(void) { return 0; }\n"
            "void exit_flush_lazy_tlbs(struct mm_struct *mm) {}\n"
            "void do_exit_flush_lazy_tlb(struct mm_struct *mm) {}\n")
    from powersim.kernel.image import dump
    img = build(c_file(tmp_path, body))
    text = "\n".join(dump(img))
    ser = img.symbols["serialize_against_pte_lookup"]
    calls = [line for line in text.splitlines()
             if line.endswith((f"bl {ser:#x}", f"bl {ser + 8:#x}"))]
    assert len(calls) == 1                                  # pmdp_collapse_flush only
    assert any(line.endswith(f"bl {img.symbols['tick_and_test_trim_clock']:#x}")
               for line in text.splitlines())


@needs_cc
def test_a_c_robust_with_its_flags_matches_robust(tmp_path):
    """v5.8 in C (no serialize at the clear, a 2M flush per PMD, the walker
    re-check, pgtable_free_tlb deferring the free): robust's munmap exactly, the
    same op time and tlbies."""
    path = c_file(tmp_path, "METHOD_FLAG(serialize_at_clear, 0);\n"
                  "METHOD_FLAG(zap_flush_per_pmd, 1);\nMETHOD_FLAG(walker_recheck, 1);\n"
                  "static void do_nothing(void *unused) {}\n"
                  "void serialize_against_pte_lookup(struct mm_struct *mm)\n"
                  "{ smp_mb(); smp_call_function_many(mm_cpumask(mm), do_nothing, NULL, 1); }\n"
                  "void pgtable_free_tlb(pgtable_t t) { tlb_remove_table_deferred(t); }\n")
    c, b = simulate(path), simulate("robust")
    assert c.op_seconds == b.op_seconds and c.counters["tlbie"] == b.counters["tlbie"] == 18


@needs_cc
@pytest.mark.parametrize("body,needle", [
    ("WRITE_ONCE(*(long *)0x7000000000UL, 1);",
     "CPU 0 stopped in the munmap_thp operation (checkstop; interrupts taken: int_200 x1"),
    ("for (;;) cpu_relax();", "check that the C method"),
])
def test_a_c_method_that_crashes_or_hangs_is_named(tmp_path, body, needle):
    path = c_file(tmp_path, f"void serialize_against_pte_lookup(struct mm_struct *mm) "
                  f"{{ {body} }}\n")
    with pytest.raises(ConfigError) as e:
        simulate(path)
    assert needle in str(e.value) and path in str(e.value)


# --- the command line ---------------------------------------------------------------------
@needs_cc
def test_compare_prints_the_builder_and_the_c_count_side_by_side(capsys):
    assert cli.main(["compare", SCENARIO, "--methods", f"count,{COUNT_C}", "--set", SMALL[0],
                     "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["method", "count", COUNT_C]
    rows = {r.split()[0]: r.split()[1:] for r in table[2:]}
    assert rows["IPIs"] == ["sent", "0", "0"] and rows["serialize"] == ["rounds", "4", "4"]


@needs_cc
def test_a_compile_error_is_one_line_then_the_compiler_output(tmp_path, capsys):
    path = c_file(tmp_path, "void serialize_against_pte_lookup(struct mm_struct *mm) "
                  "{ oops }\n", "broken.c")
    assert cli.main(["run", SCENARIO, "--method", path, "--set", SMALL[0], "--quiet"]) == 2
    err = capsys.readouterr().err
    first, *rest = err.splitlines()
    assert first == f"powersim: error: {path}: compiling failed ({cmethod.CC} exit 1):"
    assert any("'oops' undeclared" in line for line in rest)
    assert "Traceback" not in err


@needs_cc
def test_kernel_command_lists_the_c_functions(capsys):
    assert cli.main(["kernel", "--method", COUNT_C]) == 0
    out = capsys.readouterr().out
    assert " begin_lockless_pgtbl_walk" in out and " serialize_against_pte_lookup" in out
