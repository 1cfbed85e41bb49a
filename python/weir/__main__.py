from weir.cli import main

raise SystemExit(main())
