from fracture_desktop.cli import main

raise SystemExit(main())
