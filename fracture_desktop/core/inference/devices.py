"""The device choices for the model, named once for the engine, the command line and the viewer.

Torch-free, so the viewer can list them before torch is imported.
"""

#: ``auto`` picks CUDA when torch sees a GPU, else the CPU.
DEVICES = ("auto", "cpu", "cuda")
