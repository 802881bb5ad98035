"""Curated rubrics, shipped inside the wheel as package data (evaluator.bundled_rubrics)."""
