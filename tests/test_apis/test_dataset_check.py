"""Bad input (issue 14 point 3): each case made at test time from the real
fruits_nuts photos either goes through the real training pipeline, or the
dataset check stops it with a message naming the file and the field.

``CASES`` is the single source of the bad-input table in docs/datasets.md
(printed by tools/analysis/bad_input_table.py; test_doc_table_is_current
checks the page shows it).
"""
import json
import os.path as osp
import shutil
from typing import Callable, NamedTuple, Optional

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from conftest import DATA, ROOT, load_script, real_dataset
from projects.apis.dataset_check import (Problem, check_coco_split,
                                         load_coco_json)
from projects.apis.run_checks import ConfigCheckError, check_datasets

FRUITS = osp.join(DATA, 'fruits_nuts')
CFG = osp.join(ROOT, 'configs', 'sais',
               'sais_r50_fpn_1xb2-200i_fruits-nuts-384.py')
SIZE = 128  # the pipeline's resize in these tests


def _mini(tmp_path) -> dict:
    """A 2-image copy of fruits_nuts/train.json with its real photos."""
    with open(osp.join(FRUITS, 'train.json')) as f:
        coco = json.load(f)
    coco['images'] = coco['images'][:2]
    ids = {im['id'] for im in coco['images']}
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] in ids]
    (tmp_path / 'images').mkdir()
    for im in coco['images']:
        shutil.copy(osp.join(FRUITS, 'images', im['file_name']),
                    tmp_path / 'images' / im['file_name'])
    return coco


def _first(coco, tmp_path):
    """(image dict, its path, its annotations) of the first image."""
    im = coco['images'][0]
    anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
    return im, tmp_path / 'images' / im['file_name'], anns


def _rewrite(coco, tmp_path, ext, save):
    """Save the first photo anew with ``save(rgb_array, path)``."""
    im, path, _ = _first(coco, tmp_path)
    rgb = np.asarray(Image.open(path).convert('RGB'))
    path.unlink()
    im['file_name'] = osp.splitext(im['file_name'])[0] + ext
    save(rgb, tmp_path / 'images' / im['file_name'])


def corrupt_jpeg(coco, tmp_path):
    path = _first(coco, tmp_path)[1]
    data = bytearray(path.read_bytes())
    data[100:400] = bytes(300)  # the Huffman tables
    path.write_bytes(bytes(data))


def damaged_jpeg_data(coco, tmp_path):
    path = _first(coco, tmp_path)[1]
    data = bytearray(path.read_bytes())
    data[2000:6000] = bytes(4000)  # inside the entropy-coded data
    path.write_bytes(bytes(data))


def truncated_jpeg(coco, tmp_path):
    path = _first(coco, tmp_path)[1]
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


def empty_jpeg(coco, tmp_path):
    _first(coco, tmp_path)[1].write_bytes(b'')


def rgba_png(coco, tmp_path):
    def save(rgb, path):
        alpha = np.full(rgb.shape[:2] + (1, ), 128, np.uint8)
        Image.fromarray(np.concatenate([rgb, alpha], 2), 'RGBA').save(path)
    _rewrite(coco, tmp_path, '.png', save)


def grayscale_jpeg(coco, tmp_path):
    _rewrite(coco, tmp_path, '.jpg',
             lambda rgb, path: Image.fromarray(rgb).convert('L').save(path))


def png_16bit(coco, tmp_path):
    def save(rgb, path):
        cv2.imwrite(str(path), rgb[..., ::-1].astype(np.uint16) * 257)
    _rewrite(coco, tmp_path, '.png', save)


def _exif_rotated(coco, tmp_path):
    """Store the photo turned 90 degrees left with EXIF orientation 6
    (turn right to view): viewers and the loader show the original."""
    im, path, _ = _first(coco, tmp_path)
    photo = Image.open(path)
    exif = photo.getexif()
    exif[0x0112] = 6
    stored = photo.transpose(Image.Transpose.ROTATE_90)
    stored.save(path, exif=exif, quality=95)
    return im


def exif_rotated(coco, tmp_path):
    _exif_rotated(coco, tmp_path)


def exif_rotated_stored_size(coco, tmp_path):
    im = _exif_rotated(coco, tmp_path)
    im['width'], im['height'] = im['height'], im['width']


def missing_image(coco, tmp_path):
    _first(coco, tmp_path)[1].unlink()


def short_polygon(coco, tmp_path):
    ann = _first(coco, tmp_path)[2][0]
    ann['segmentation'] = [ann['segmentation'][0][:4]]


def box_outside(coco, tmp_path):
    ann = _first(coco, tmp_path)[2][0]
    ann['bbox'] = [900.0, 700.0, 50.0, 50.0]  # the image is 800x600


def box_negative(coco, tmp_path):
    ann = _first(coco, tmp_path)[2][0]
    ann['bbox'] = [ann['bbox'][0], ann['bbox'][1], -20.0, 30.0]


def unknown_category(coco, tmp_path):
    _first(coco, tmp_path)[2][0]['category_id'] = 7


def duplicate_ann_id(coco, tmp_path):
    anns = _first(coco, tmp_path)[2]
    anns[1]['id'] = anns[0]['id']


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd format: run lengths in column-major order, from 0s."""
    flat = np.concatenate([[0], mask.flatten(order='F'), [1 - mask.flat[-1]]])
    changes = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate([[1], changes])).tolist()
    return dict(counts=counts, size=list(mask.shape))


def crowd_rle(coco, tmp_path):
    im = coco['images'][0]
    mask = np.zeros((im['height'], im['width']), np.uint8)
    mask[400:500, 600:750] = 1
    coco['annotations'].append(dict(
        id=10**6, image_id=im['id'], category_id=1, iscrowd=1,
        area=float(mask.sum()), bbox=[600.0, 400.0, 150.0, 100.0],
        segmentation=_uncompressed_rle(mask)))


def broken_rle(coco, tmp_path):
    ann = _first(coco, tmp_path)[2][0]
    ann['segmentation'] = dict(counts='not rle', size=[600, 800])


def rle_of_another_size(coco, tmp_path):
    crowd_rle(coco, tmp_path)
    coco['annotations'][-1]['segmentation']['size'] = [300, 400]


def image_without_annotations(coco, tmp_path):
    first = coco['images'][0]['id']
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] != first]


def empty_annotation_list(coco, tmp_path):
    coco['annotations'] = []


def _resized(coco, tmp_path, side: int, scale: float):
    """The first photo tiled/resized to side x side, its first annotation
    scaled by ``scale`` and kept as its only one."""
    im, path, anns = _first(coco, tmp_path)
    photo = cv2.imread(str(path))
    if side > photo.shape[1]:
        reps = (-(-side // photo.shape[0]), -(-side // photo.shape[1]), 1)
        photo = np.tile(photo, reps)[:side, :side]
    else:
        photo = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 60])
    im['width'] = im['height'] = side
    ann = anns[0]
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] != im['id']] + [ann]
    ann['bbox'] = [min(v * scale, side - 1.) if i < 2 else max(v * scale, 1.)
                   for i, v in enumerate(ann['bbox'])]
    ann['segmentation'] = [[min(v * scale, side) for v in p]
                           for p in ann['segmentation']]
    ann['area'] = max(ann['area'] * scale**2, 1.)


def one_pixel_image(coco, tmp_path):
    _resized(coco, tmp_path, 1, 0.)
    ann = coco['annotations'][-1]
    ann['bbox'] = [0., 0., 1., 1.]
    ann['segmentation'] = [[0., 0., 1., 0., 1., 1., 0., 1.]]


def huge_image(coco, tmp_path):
    _resized(coco, tmp_path, 10_000, 1.)


class Case(NamedTuple):
    """One bad input: how it is made and what must happen.

    ``outcome`` is ``'works'`` (a training sample comes out of the real
    pipeline; ``field``/``text`` then name an expected warning, if any) or
    ``'stops'`` (a fatal problem in ``field`` whose message holds ``text``,
    naming the image file if ``names_image`` else the annotation file).
    """
    input: str
    make: Callable
    outcome: str
    field: Optional[str] = None
    text: Optional[str] = None
    names_image: bool = False
    slow: bool = False
    note: str = 'a training sample through the real pipeline'


CASES = [
    Case('corrupt JPEG (Huffman tables zeroed)', corrupt_jpeg, 'stops',
         '.file_name', 'cv2 cannot decode it', True),
    Case('JPEG with damaged image data (libjpeg warns)', damaged_jpeg_data,
         'works', note='cv2 decodes it, damaged pixels and all'),
    Case('truncated JPEG (first half of the bytes)', truncated_jpeg,
         'stops', '.file_name', 'cv2 cannot decode it', True),
    Case('empty (0-byte) JPEG', empty_jpeg, 'stops', '.file_name',
         'the file is empty', True),
    Case('PNG with alpha (RGBA)', rgba_png, 'works',
         note='alpha dropped: 3-channel input'),
    Case('grayscale JPEG', grayscale_jpeg, 'works',
         note='read as 3-channel BGR'),
    Case('16-bit PNG', png_16bit, 'works',
         note='read as 8-bit 3-channel BGR'),
    Case('EXIF-rotated photo, JSON has the displayed size', exif_rotated,
         'works', note='the loader turns it upright (cv2 applies EXIF)'),
    Case('EXIF-rotated photo, JSON has the stored size',
         exif_rotated_stored_size, 'stops', '.width/height',
         'EXIF orientation 6', True),
    Case('missing image file', missing_image, 'stops', '.file_name',
         'image file not found', True),
    Case('polygon with fewer than 3 points', short_polygon, 'works',
         '.segmentation[0]', 'the loader drops it, and with it the '
         'instance (ignored)'),
    Case('box outside the image', box_outside, 'works', '.bbox',
         'lies outside the 800x600 image: the loader drops it'),
    Case('box of negative size', box_negative, 'works', '.bbox',
         'under 1 px, the loader drops it'),
    Case('unknown category id', unknown_category, 'stops', '.category_id',
         '7 is not declared in categories'),
    Case('duplicate annotation ids', duplicate_ann_id, 'stops', '.id',
         'duplicate annotation id'),
    Case('crowd RLE (uncompressed counts)', crowd_rle, 'works',
         note='an ignored (crowd) instance with its mask'),
    Case('RLE that does not decode', broken_rle, 'stops', '.segmentation',
         'RLE does not decode (ValueError'),
    Case('RLE whose size is not its image\'s', rle_of_another_size, 'stops',
         '.segmentation.size', 'is not the image height, width [600, 800]'),
    Case('image without annotations', image_without_annotations, 'works',
         note='training skips it (filter_empty_gt), the summary counts '
         'it'),
    Case('empty annotation list', empty_annotation_list, 'stops',
         'annotations', 'training filters out every image'),
    Case('1 x 1 image', one_pixel_image, 'works',
         note='resized like any other, its 1 x 1 box kept'),
    Case('10,000 x 10,000 image', huge_image, 'works', slow=True,
         note='decoded (300 MB) and resized like any other'),
]


def _case(make: Callable) -> Case:
    return next(c for c in CASES if c.make is make)


def _make(case: Case, tmp_path) -> str:
    coco = _mini(tmp_path)
    case.make(coco, tmp_path)
    ann_file = tmp_path / 'train.json'
    ann_file.write_text(json.dumps(coco))
    return str(ann_file)


def _sample_all(ann_file: str, tmp_path) -> list:
    """Every training sample of the split through the real config's
    pipeline at SIZE x SIZE (no flip)."""
    ds = real_dataset(Config.fromfile(CFG), size=SIZE, ann_file=ann_file,
                      data_root=str(tmp_path) + '/')
    return [ds[i] for i in range(len(ds))]


@pytest.mark.parametrize('case', [
    pytest.param(c, marks=pytest.mark.slow) if c.slow else c for c in CASES
], ids=[c.input for c in CASES])
def test_bad_input(case, tmp_path):
    ann_file = _make(case, tmp_path)
    report = check_coco_split(ann_file, str(tmp_path / 'images'))
    first = load_coco_json(ann_file)['images'][0]
    image = str(tmp_path / 'images' / first['file_name'])
    if case.outcome == 'stops':
        hits = [p for p in report.fatal if case.field in p.field
                and case.text in p.message]
        assert hits, report.problems
        assert hits[0].file == (image if case.names_image else ann_file)
        return
    assert not report.fatal, report.problems
    if case.field:
        assert any(case.field in p.field and case.text in p.message
                   for p in report.warnings), report.problems
    else:
        assert not report.warnings, report.problems
    samples = _sample_all(ann_file, tmp_path)
    with open(ann_file) as f:
        coco = json.load(f)
    has_anns = {a['image_id'] for a in coco['annotations']}
    assert len(samples) == len(has_anns)  # filter_empty_gt drops the rest
    for s in samples:
        assert s['inputs'].shape == (3, SIZE, SIZE)
        gt = s['data_samples'].gt_instances
        assert gt.masks.masks.shape[1:] == (SIZE, SIZE)
        assert len(gt) == gt.masks.masks.shape[0] and len(gt) > 0
    by_id = {s['data_samples'].img_id: s['data_samples'] for s in samples}
    if first['id'] in by_id:
        assert by_id[first['id']].ori_shape == (first['height'],
                                                first['width'])
        _expect_instances(case, coco, first, by_id[first['id']])


def _expect_instances(case, coco, first, sample):
    """The first image's instances: dropped, ignored and crowd ones."""
    anns = [a for a in coco['annotations'] if a['image_id'] == first['id']]
    n_gt = len(sample.gt_instances)
    n_ignored = len(sample.ignored_instances)
    if case.make in (box_outside, box_negative):
        assert n_gt + n_ignored == len(anns) - 1  # dropped by the loader
    elif case.make is short_polygon:
        assert n_ignored == 1 and n_gt == len(anns) - 1
    elif case.make is crowd_rle:
        assert n_ignored == 1 and n_gt == len(anns) - 1
        ignored = sample.ignored_instances.masks.masks[0]
        # 150 x 100 px of 800 x 600, resized to SIZE x SIZE
        assert abs(ignored.sum() / (SIZE * SIZE) - 15000 / 480000) < 0.01
    else:
        assert n_gt == len(anns) and n_ignored == 0


def test_exif_rotated_photo_loads_upright(tmp_path):
    """The loader applies the EXIF tag: the pixels equal the original's."""
    coco = _mini(tmp_path)
    original = cv2.imread(str(_first(coco, tmp_path)[1]))
    exif_rotated(coco, tmp_path)
    import mmcv
    loaded = mmcv.imread(str(_first(coco, tmp_path)[1]))
    assert loaded.shape == original.shape == (600, 800, 3)
    diff = np.abs(loaded.astype(int) - original).mean()
    upside_down = np.abs(loaded[::-1, ::-1].astype(int) - original).mean()
    assert diff < 3 < 10 * diff < upside_down  # only JPEG re-save noise


def test_header_only_check_finds_size_and_bad_files(tmp_path):
    """Splits over decode_max_images get the PIL header check."""
    ann_file = _make(_case(exif_rotated_stored_size), tmp_path)
    report = check_coco_split(ann_file, str(tmp_path / 'images'),
                              decode_max_images=0)
    assert report.images_checked == 'headers'
    assert [p.field for p in report.fatal] == [
        f'images[id={load_coco_json(ann_file)["images"][0]["id"]}]'
        '.width/height']
    empty = tmp_path / 'images' / load_coco_json(ann_file)['images'][1][
        'file_name']
    empty.write_bytes(b'')
    report = check_coco_split(ann_file, str(tmp_path / 'images'),
                              decode_max_images=0)
    assert any(p.file == str(empty) and 'not a readable image' in p.message
               for p in report.fatal)


def test_header_sample_reads_some_headers_and_checks_every_file(tmp_path):
    """Over header_max_images images, the headers of a seeded sample are
    read (a size mismatch outside it goes unseen), while every file is
    still checked to exist; None reads every header."""
    coco = _mini(tmp_path)
    coco['images'][0]['width'] += 1  # the JSON disagrees with the photo
    missing = dict(coco['images'][1], id=99, file_name='gone.jpg')
    coco['images'].append(missing)
    ann_file = tmp_path / 'train.json'
    ann_file.write_text(json.dumps(coco))
    img_dir = str(tmp_path / 'images')

    def fields(report):
        return sorted(p.field for p in report.fatal)

    everything = check_coco_split(str(ann_file), img_dir,
                                  decode_max_images=0, header_max_images=None)
    assert everything.images_checked == 'headers'
    first = coco['images'][0]['id']
    assert fields(everything) == sorted([
        f'images[id={first}].width/height', 'images[id=99].file_name'])
    for limit in (1, 2):
        report = check_coco_split(str(ann_file), img_dir,
                                  decode_max_images=0,
                                  header_max_images=limit)
        assert report.images_checked == \
            f'all exist, headers of {limit} sampled'
        assert 'images[id=99].file_name' in fields(report)  # always
        again = check_coco_split(str(ann_file), img_dir,
                                 decode_max_images=0,
                                 header_max_images=limit)
        assert fields(again) == fields(report)  # the same seeded sample
    assert len(fields(check_coco_split(
        str(ann_file), img_dir, decode_max_images=0,
        header_max_images=3))) == 2  # all three: nothing sampled away


def test_summary_counts_real_split():
    report = check_coco_split(osp.join(FRUITS, 'train.json'),
                              osp.join(FRUITS, 'images'))
    with open(osp.join(FRUITS, 'train.json')) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    expect = {n: 0 for n in names.values()}
    for a in coco['annotations']:
        expect[names[a['category_id']]] += 1
    assert report.instances == expect and not report.problems
    text = report.summary()
    assert f'{len(coco["images"])} images (decoded)' in text
    assert 'most common 800x600 (14)' in text
    assert ', '.join(f'{k}: {v}' for k, v in expect.items()) in text


def test_validation_image_broken_stops_before_training(tmp_path):
    """A broken image in the validation split is fatal at the start-of-
    training check, so it cannot kill a long run at its first validation."""
    ann_file = _make(_case(empty_jpeg), tmp_path)
    cfg = Config.fromfile(CFG)
    cfg.val_dataloader.dataset.update(data_root=str(tmp_path) + '/',
                                      ann_file=ann_file)
    with pytest.raises(ConfigCheckError) as e:
        check_datasets(cfg, ['train_dataloader', 'val_dataloader'])
    assert 'val_dataloader' in str(e.value)
    image = load_coco_json(ann_file)['images'][0]['file_name']
    assert osp.join(str(tmp_path), 'images', image) in str(e.value)
    assert '.file_name: failed to load image: the file is empty' in str(
        e.value)


def test_empty_validation_split_is_only_a_warning(tmp_path):
    ann_file = _make(_case(empty_annotation_list), tmp_path)
    report = check_coco_split(ann_file, str(tmp_path / 'images'),
                              for_training=False)
    assert not report.fatal
    assert [p.field for p in report.warnings] == ['annotations']


def test_problem_str_names_kind_file_and_field():
    p = Problem(True, 'a.jpg', 'images[id=3].file_name', 'missing')
    assert str(p) == 'error: a.jpg: images[id=3].file_name: missing'


def test_doc_table_is_current():
    """docs/datasets.md shows the table tools/analysis/bad_input_table.py
    prints."""
    table = load_script('tools/analysis/bad_input_table.py').table()
    with open(osp.join(ROOT, 'docs', 'datasets.md')) as f:
        assert table in f.read()
