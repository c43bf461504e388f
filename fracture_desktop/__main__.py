import multiprocessing

from fracture_desktop.cli import main

# A frozen build starts its decoder workers (core/imaging/guard.py) by running itself again.
multiprocessing.freeze_support()
raise SystemExit(main())
