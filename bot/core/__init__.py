"""The conversation core: types, the engine, and the screens and actions it knows."""
