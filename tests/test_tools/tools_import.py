"""Import the scripts under tools/ as modules for the tests."""
from conftest import load_script

converter = load_script('tools/model_converters/torchvision_resnet.py')
