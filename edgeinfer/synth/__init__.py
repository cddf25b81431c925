"""Physics for synthetic truth: Planck radiance of sub-pixel fires, added to real or generated
backgrounds (used by sample_data/generate.py and `edgeinfer eval fire`)."""
