from powersim.cli import main

raise SystemExit(main())
