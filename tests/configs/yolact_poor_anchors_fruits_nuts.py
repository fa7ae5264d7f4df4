# YOLACT on fruits_nuts with anchors far too small for its objects, so that
# the anchor optimiser has recall to win.
_base_ = '../../configs/yolact/yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py'
model = dict(
    bbox_head=dict(anchor_generator=dict(octave_base_scale=1, ratios=[1.0])))
