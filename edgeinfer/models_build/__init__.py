"""Code that writes ``models/*.onnx`` and their cards, deterministically.

``edgeinfer models build`` calls :func:`edgeinfer.models_build.registry.build_all`.
"""
