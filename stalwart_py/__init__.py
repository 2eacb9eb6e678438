"""stalwart_py."""
