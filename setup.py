"""Single-shot instance segmentation zoo on MMDetection 3.x.

Pins are the versions measured to work together on a CPU machine (see
README, "Set-up"). mmcv must be built with its ops before this package is
installed: tools/setup.sh does it in the right order.
"""
from setuptools import find_packages, setup

setup(
    name='ssis-zoo',
    version='0.1.0',
    description='Reference zoo of single-shot instance segmentation '
    'on MMDetection 3.x',
    packages=find_packages(include=['projects', 'projects.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch==2.13.0',  # no torchvision: the registry build does not load
        'mmcv==2.1.0',  # built from source with MMCV_WITH_OPS=1
        'mmengine==0.10.7',
        'mmdet==3.3.0',
        'pycocotools==2.0.11',
        'numpy>=1.26,<2.5',
        'scipy>=1.11',
        'matplotlib>=3.7',
        'tqdm>=4.65',
        # ONNX export and its CPU runtime (tools/deployment)
        'onnx==1.23.2',
        'onnxscript==0.7.2',
        'onnxruntime==1.32.0',
    ],
    extras_require={'tests': ['pytest>=8', 'pytest-xdist>=3.8']},
)
