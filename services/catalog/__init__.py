"""The catalog service: courses, chapters, sections, teachers, categories and banners."""
