"""Template tags and filters of djqueue's admin pages."""
