"""``python -m stalwart_py.config --markdown | --example | --check FILE``."""

from .docs import main

raise SystemExit(main())
