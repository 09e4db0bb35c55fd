"""Terminal and HTML rendering and live progress: what people see."""
