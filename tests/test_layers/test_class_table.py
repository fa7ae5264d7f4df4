"""ClassTable: the per-class declarations the floors above a method read
(stage maps, ONNX output layouts, mask bases)."""
import pytest
from mmdet.models.dense_heads import YOLACTProtonet

from projects.blendmask import BlendMaskMaskHead
from projects.layers import (HEAD_OUTPUTS, MASK_BASES, STAGE_MAPS,
                             TWO_STAGE, ClassTable, stage_map_of)
from projects.sais import SAISHead, SAISMaskHead
from projects.yolact import YOLACTPlusPlusProtonet
from projects.yolo_mask import YOLOMask


class Base:
    pass


class Child(Base):
    pass


class GrandChild(Child):
    pass


def test_lookup_follows_the_mro_and_declared_wins():
    calls = []

    def defaults():
        calls.append(1)
        return {Base: 'default'}

    table = ClassTable('colour', defaults, 'Declare one with paint().')
    assert calls == []  # defaults are built on the first lookup only
    assert table.get(GrandChild()) == 'default'
    table.declare(Child, 'declared')
    assert table.get(GrandChild) == 'declared'
    assert table.get(Base) == 'default'
    assert table.get(int, 'none') == 'none'
    assert len(calls) == 1
    with pytest.raises(NotImplementedError,
                       match=r'int: no colour; declared for .*Base, Child.* '
                       r'Declare one with paint\(\)\.'):
        table.lookup(3)


def test_register_is_a_class_decorator():
    table = ClassTable('size')

    @table.register(7)
    class Declared:
        pass

    assert Declared.__name__ == 'Declared'  # the class itself comes back
    assert table.lookup(Declared) == 7


def test_methods_declare_their_own_heads():
    """The zoo's heads are declared in their method packages (importing
    ``projects`` registers them), mmdet's in the shared layers."""
    assert HEAD_OUTPUTS.lookup(SAISHead).groups[-1] == ('coeff_preds',
                                                        'levels')
    assert HEAD_OUTPUTS.lookup(YOLACTPlusPlusProtonet).post_modules == (
        'maskiou_net', )
    assert MASK_BASES.get(SAISMaskHead) == 'prototypes'
    assert MASK_BASES.get(BlendMaskMaskHead) == 'bases'
    assert MASK_BASES.get(YOLACTProtonet) == 'prototypes'
    # YOLO-Mask needs no declaration: its mmdet base class has a map
    assert stage_map_of(YOLOMask) == STAGE_MAPS.get(YOLOMask)
    assert stage_map_of(YOLOMask) != TWO_STAGE
