"""Protocol model, YAML form, templates and the engine that runs them."""
