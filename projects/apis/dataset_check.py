"""Check a COCO-format instance split before anything trains on it.

MMDetection reads a COCO file leniently: an annotation whose box lies
outside its image, whose polygon has fewer than 3 points or whose category
is not a class is dropped without a word, duplicate annotation ids overwrite
each other in pycocotools' index, and an image that does not decode stops a
DataLoader worker at its first use (for a validation image: after the
first training interval) with a message that names no file. This module
reads the JSON (and the images) once, the way ``CocoDataset`` and the
pipeline's ``LoadImageFromFile`` (cv2 backend, ``color_type='color'``: EXIF
orientation applied, grey and 16-bit images converted to 8-bit BGR, alpha
dropped) will, and reports every problem with its file and field.

Fatal problems (training or testing cannot be right with them):
a missing or undecodable image, an image whose size differs from the
JSON's ``width``/``height``, duplicate image or annotation ids, an
annotation of an undeclared image or ``category_id``, a malformed
``bbox`` or ``area``, a missing ``segmentation``, an RLE that does not
decode or whose size is not its image's, no categories, and a training
split without a single annotation. Warnings (the loader copes; the user
should know): an annotation the loader drops (box outside the image,
non-positive width, height or area) or ignores (every polygon under 3
points), a polygon under 3 points, a box partly outside its image, a
validation split without annotations.

Images are decoded when a split has at most ``decode_max_images`` images
(default 500, about 5 s on one core); larger splits (COCO) get a header-only
check with PIL (format and size after EXIF orientation), which finds empty
and unreadable files but not damage after the header. Every file's
existence is checked; the headers of a split over ``header_max_images``
images (default 2000) are read for a seeded random sample of that many
(reading COCO train2017's 118k headers takes longer than mmdet's whole
dataset load); ``tools/misc/check_dataset.py --header-max-images 0``
reads them all.
"""
import json
import os.path as osp
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

DECODE_MAX_IMAGES = 500
HEADER_MAX_IMAGES = 2000
EXIF_ORIENTATION = 0x0112
EXIF_SWAPS_SIDES = (5, 6, 7, 8)


@dataclass
class Problem:
    """One finding of :func:`check_coco_split`.

    Attributes:
        fatal (bool): True if training or testing must not start.
        file (str): the image path, or the annotation file for JSON fields.
        field (str): the JSON field at fault, e.g.
            ``'annotations[id=5].segmentation'``.
        message (str): what is wrong and what the loader would do.
    """
    fatal: bool
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        kind = 'error' if self.fatal else 'warning'
        return f'{kind}: {self.file}: {self.field}: {self.message}'


@dataclass
class SplitReport:
    """What :func:`check_coco_split` found in one split.

    Attributes:
        ann_file (str): the annotation file.
        num_images (int): images declared in the JSON.
        instances (dict[str, int]): annotations per category name.
        crowd (int): annotations with ``iscrowd=1``.
        empty_images (int): images without any annotation.
        sizes (Counter): ``(width, height)`` of the images, from the JSON.
        images_checked (str): ``'decoded'``, ``'headers'`` or ``'all exist,
            headers of N sampled'``.
        problems (list[Problem]): every finding, in file order.
    """
    ann_file: str
    num_images: int = 0
    instances: Dict[str, int] = field(default_factory=dict)
    crowd: int = 0
    empty_images: int = 0
    sizes: Counter = field(default_factory=Counter)
    images_checked: str = 'decoded'
    problems: List[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> List[Problem]:
        """list[Problem]: the fatal problems."""
        return [p for p in self.problems if p.fatal]

    @property
    def warnings(self) -> List[Problem]:
        """list[Problem]: the problems that are only warnings."""
        return [p for p in self.problems if not p.fatal]

    def summary(self) -> str:
        """str: images, instances per class, crowd, sizes, problem counts."""
        per_class = ', '.join(f'{k}: {v}' for k, v in self.instances.items())
        common = ', '.join(f'{w}x{h} ({n})'
                           for (w, h), n in self.sizes.most_common(3))
        smallest = min(self.sizes, key=lambda s: s[0] * s[1], default=None)
        largest = max(self.sizes, key=lambda s: s[0] * s[1], default=None)
        lines = [
            f'{self.ann_file}: {self.num_images} images '
            f'({self.images_checked}), {sum(self.instances.values())} '
            f'instances ({self.crowd} crowd), {self.empty_images} images '
            f'without annotations',
            f'  instances per class: {per_class or "none"}',
        ]
        if self.sizes:
            lines.append(f'  image sizes (WxH): most common {common}; '
                         f'smallest {smallest[0]}x{smallest[1]}, largest '
                         f'{largest[0]}x{largest[1]}')
        lines.append(f'  {len(self.fatal)} errors, {len(self.warnings)} '
                     'warnings')
        return '\n'.join(lines)


def load_coco_json(ann_file: str) -> dict:
    """Read a COCO annotation file.

    Raises:
        ValueError: naming the file if it is not JSON or lacks ``images``,
            ``annotations`` or ``categories``.
    """
    try:
        with open(ann_file) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{ann_file}: not a JSON file ({e})') from e
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(coco.get(k), list)]
    if missing:
        raise ValueError(f'{ann_file}: no {", ".join(missing)} list: not a '
                         'COCO instance annotation file')
    return coco


def _image_size(path: str, decode: bool) -> Tuple[int, int]:
    """(width, height) of an image as LoadImageFromFile reads it.

    Raises:
        ValueError: if the file is empty or does not decode.
    """
    if decode:
        import mmcv
        with open(path, 'rb') as f:
            data = f.read()
        if not data:
            raise ValueError('the file is empty')
        img = mmcv.imfrombytes(data, flag='color', backend='cv2')
        if img is None:
            raise ValueError('cv2 cannot decode it (corrupt or truncated)')
        return img.shape[1], img.shape[0]
    from PIL import Image
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception as e:  # PIL raises several types for bad files
        raise ValueError(f'not a readable image ({e})') from e
    return (h, w) if orientation in EXIF_SWAPS_SIDES else (w, h)


def _exif_hint(path: str) -> str:
    from PIL import Image
    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:
        return ''
    if orientation == 1:
        return ''
    return (f' The file has EXIF orientation {orientation}, which the loader '
            'applies (cv2): annotate the rotated image, or remove the tag.')


def _where(ann: dict, index: int) -> str:
    """The JSON path of an annotation in messages (built only for one with
    a problem: a COCO train split has 860k)."""
    return f'annotations[id={ann.get("id", f"?{index}")}]'


def _check_segmentation(ann: dict, img: dict, index: int, ann_file: str,
                        problems: List[Problem]) -> None:
    seg = ann.get('segmentation')
    if not seg:
        problems.append(Problem(
            True, ann_file, f'{_where(ann, index)}.segmentation',
            'missing or empty: LoadAnnotations(with_mask=True) fails on it '
            "('mask' KeyError)"))
        return
    if type(seg) is list:
        for p in seg:  # the common case: every polygon fine
            if len(p) < 6 or len(p) % 2:
                break
        else:
            return
        where = _where(ann, index)
        short = [i for i, p in enumerate(seg)
                 if len(p) < 6 or len(p) % 2]
        for i in short:
            problems.append(Problem(
                False, ann_file, f'{where}.segmentation[{i}]',
                f'polygon of {len(seg[i])} numbers (fewer than 3 points or '
                'an odd count): the loader drops it'
                + (', and with it the instance (ignored)'
                   if len(short) == len(seg) else '')))
        return
    from pycocotools import mask as mask_utils
    where = _where(ann, index)
    h, w = img['height'], img['width']
    size = seg.get('size') if isinstance(seg, dict) else None
    if size is not None and list(size) != [h, w]:
        problems.append(Problem(
            True, ann_file, f'{where}.segmentation.size',
            f'RLE size {size} is not the image height, width [{h}, {w}]'))
        return
    try:
        rle = seg
        if isinstance(seg['counts'], list):
            rle = mask_utils.frPyObjects(seg, h, w)
        mask_utils.decode(rle)
    except Exception as e:  # pycocotools raises several types
        problems.append(Problem(
            True, ann_file, f'{where}.segmentation',
            f'RLE does not decode ({type(e).__name__}: {e})'))


_NUMBER = (int, float)


def _is_box(box) -> bool:
    if type(box) is not list and type(box) is not tuple or len(box) != 4:
        return False
    x, y, w, h = box  # exact types first: the common case, and fast
    if type(x) in _NUMBER and type(y) in _NUMBER and type(w) in _NUMBER \
            and type(h) in _NUMBER:
        return True
    return all(isinstance(v, _NUMBER) for v in box)


def _check_bbox(ann: dict, img: dict, index: int, ann_file: str,
                problems: List[Problem]) -> bool:
    """Add the box's problems; return whether the loader keeps it."""
    box = ann.get('bbox')
    if not _is_box(box):
        problems.append(Problem(
            True, ann_file, f'{_where(ann, index)}.bbox',
            f'{box!r} is not [x, y, width, height]'))
        return False
    x, y, w, h = box
    iw, ih = img['width'], img['height']
    area = ann.get('area')
    if w >= 1 and h >= 1 and 0 <= x and 0 <= y and x + w <= iw and \
            y + h <= ih and type(area) in _NUMBER and area > 0:
        return True  # inside its image, with a positive area
    where = _where(ann, index)
    if w < 1 or h < 1:
        problems.append(Problem(
            False, ann_file, f'{where}.bbox',
            f'width {w}, height {h}: under 1 px, the loader drops it'))
        return False
    if min(x + w, iw) - max(x, 0) <= 0 or min(y + h, ih) - max(y, 0) <= 0:
        problems.append(Problem(
            False, ann_file, f'{where}.bbox',
            f'{box} lies outside the {iw}x{ih} image: the loader drops it'))
        return False
    if not isinstance(ann.get('area'), (int, float)):
        problems.append(Problem(
            True, ann_file, f'{where}.area',
            f'{ann.get("area")!r}: CocoDataset needs a number'))
        return False
    if ann['area'] <= 0:
        problems.append(Problem(
            False, ann_file, f'{where}.area',
            f'{ann.get("area")}: not positive, the loader drops it'))
        return False
    if x < -1 or y < -1 or x + w > iw + 1 or y + h > ih + 1:
        problems.append(Problem(
            False, ann_file, f'{where}.bbox',
            f'{box} extends beyond the {iw}x{ih} image (kept unclipped)'))
    return True


def _check_images(coco: dict, ann_file: str,
                  problems: List[Problem]) -> Dict[int, dict]:
    images = {}
    for i, img in enumerate(coco['images']):
        where = f'images[{i}]'
        if 'id' not in img or 'file_name' not in img:
            problems.append(Problem(True, ann_file, where,
                                    'needs `id` and `file_name`'))
            continue
        where = f'images[id={img["id"]}]'
        if img['id'] in images:
            problems.append(Problem(
                True, ann_file, f'{where}.id', 'duplicate image id'))
            continue
        size = (img.get('width'), img.get('height'))
        if not all(isinstance(s, int) and s > 0 for s in size):
            problems.append(Problem(
                True, ann_file, f'{where}.width/height',
                f'{size}: need positive integers'))
            continue
        images[img['id']] = img
    return images


def _check_image_files(images: Dict[int, dict], ann_file: str, img_dir: str,
                       decode: bool, problems: List[Problem],
                       header_max_images: Optional[int] = None) -> int:
    """Check that every image file exists and, for all of them or a seeded
    sample of ``header_max_images`` (header checks only), that it loads at
    the JSON's size. Returns how many were opened."""
    opened = set(images)
    if not decode and header_max_images is not None and \
            len(images) > header_max_images:
        opened = set(random.Random(0).sample(sorted(images),
                                             header_max_images))
    for img_id, img in images.items():
        path = osp.join(img_dir, img['file_name'])
        if not osp.isfile(path):
            problems.append(Problem(
                True, path, f'images[id={img_id}].file_name',
                f'image file not found (in {ann_file})'))
            continue
        if img_id not in opened:
            continue
        try:
            w, h = _image_size(path, decode)
        except (ValueError, OSError) as e:
            problems.append(Problem(
                True, path, f'images[id={img_id}].file_name',
                f'failed to load image: {e}'))
            continue
        if (w, h) != (img['width'], img['height']):
            problems.append(Problem(
                True, path, f'images[id={img_id}].width/height',
                f'the JSON says {img["width"]}x{img["height"]}, the loader '
                f'reads {w}x{h} (WxH): masks and boxes would be misplaced.'
                + _exif_hint(path)))
    return len(opened)


def check_coco_split(ann_file: str, img_dir: str,
                     decode_max_images: int = DECODE_MAX_IMAGES,
                     for_training: bool = True,
                     coco: Optional[dict] = None,
                     header_max_images: Optional[int] = HEADER_MAX_IMAGES
                     ) -> SplitReport:
    """Check one COCO instance split and its images.

    Args:
        ann_file (str): the COCO JSON.
        img_dir (str): the folder ``file_name`` is relative to.
        decode_max_images (int): decode every image when the split has at
            most this many, else read headers only (see the module doc).
        for_training (bool): a split without annotations is fatal (every
            image would be filtered out); for validation it is a warning.
        coco (dict, optional): the file's content, already read by
            :func:`load_coco_json`; read here when None.
        header_max_images (int, optional): when headers only are read,
            read those of a seeded random sample of this many images (every
            file's existence is still checked); None reads all of them.

    Returns:
        SplitReport: the summary and every problem found.

    Raises:
        ValueError: if the file is not a COCO instance JSON.
    """
    if coco is None:
        coco = load_coco_json(ann_file)
    report = SplitReport(ann_file=ann_file, num_images=len(coco['images']))
    problems = report.problems
    cats = {c.get('id'): c.get('name') for c in coco['categories']}
    if not cats:
        problems.append(Problem(True, ann_file, 'categories', 'empty list'))
    report.instances = {name: 0 for name in cats.values()}
    images = _check_images(coco, ann_file, problems)
    report.sizes = Counter((im['width'], im['height'])
                           for im in images.values())
    seen_ids = set()
    annotated = set()
    per_cat: Counter = Counter()
    for i, ann in enumerate(coco['annotations']):
        ann_id = ann.get('id')
        if ann_id in seen_ids:
            problems.append(Problem(
                True, ann_file, f'{_where(ann, i)}.id', 'duplicate '
                'annotation id: pycocotools keeps only the last one'))
        seen_ids.add(ann_id)
        img = images.get(ann.get('image_id'))
        if img is None:
            problems.append(Problem(
                True, ann_file, f'{_where(ann, i)}.image_id',
                f'{ann.get("image_id")!r} is not an image of the file'))
            continue
        annotated.add(ann['image_id'])
        cat = ann.get('category_id')
        if cat not in cats:
            problems.append(Problem(
                True, ann_file, f'{_where(ann, i)}.category_id',
                f'{cat!r} is not declared in categories '
                f'(ids {sorted(cats)})'))
            continue
        if not _check_bbox(ann, img, i, ann_file, problems):
            continue
        per_cat[cat] += 1
        if ann.get('iscrowd', 0):
            report.crowd += 1
        _check_segmentation(ann, img, i, ann_file, problems)
    for cat, n in per_cat.items():
        report.instances[cats[cat]] += n
    report.empty_images = len(set(images) - annotated)
    if not any(report.instances.values()) and images:
        problems.append(Problem(
            for_training, ann_file, 'annotations', 'no usable annotation: '
            + ('training filters out every image' if for_training else
               'evaluation has nothing to compare with')))
    decode = len(images) <= decode_max_images
    opened = _check_image_files(images, ann_file, img_dir, decode, problems,
                                header_max_images)
    report.images_checked = 'decoded' if decode else (
        'headers' if opened == len(images) else
        f'all exist, headers of {opened} sampled')
    return report


def split_paths(cfg, split: str) -> Optional[Tuple[str, str]]:
    """``(ann_file, img_dir)`` of a config's COCO-format split, or None.

    Args:
        cfg (Config): a loaded config.
        split (str): a dataloader key, e.g. ``'val_dataloader'``.

    Returns:
        tuple[str, str] | None: None when the split is absent, has no
        ``ann_file``, or its dataset is not a ``CocoDataset`` (subclass).
    """
    ds = coco_dataset_cfg(cfg, split)
    if ds is None or not ds.get('ann_file'):
        return None
    root = ds.get('data_root', '') or ''
    ann = ds['ann_file']
    img = (ds.get('data_prefix') or {}).get('img', '') or ''
    return (ann if osp.isabs(ann) else osp.join(root, ann),
            img if osp.isabs(img) else osp.join(root, img))


def coco_dataset_cfg(cfg, split: str):
    """The innermost dataset config of ``cfg[split]`` if it is a COCO one.

    Wrappers with a ``dataset`` key (``RepeatDataset``, ...) are unwrapped.

    Returns:
        ConfigDict | None: the dataset node itself (edits reach the
        config), or None if absent or not a ``CocoDataset`` subclass.
    """
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS
    loader = cfg.get(split)
    if not loader:
        return None
    ds = loader.get('dataset')
    while isinstance(ds, dict) and 'dataset' in ds:
        ds = ds['dataset']
    if not isinstance(ds, dict):
        return None
    kind = ds.get('type')
    if isinstance(kind, str):
        kind = DATASETS.get(kind.split('.')[-1])
    if not (isinstance(kind, type) and issubclass(kind, CocoDataset)):
        return None
    return ds
