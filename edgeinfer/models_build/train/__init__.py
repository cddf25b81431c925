"""Training code for the learned detectors (optional extra ``edgeinfer[train]``: torch).

Never imported at run time or by ``edgeinfer models build``: training writes the weights as a
NumPy ``.npz`` next to this file, and the builders in :mod:`edgeinfer.models_build` turn the
weights into ONNX graphs with the ``onnx`` package alone, so a rebuild needs no torch.
"""
