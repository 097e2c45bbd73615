"""Small shared objects the runtime tests instrument (each module is instrumented by name)."""
