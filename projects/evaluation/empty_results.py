"""COCO evaluation that answers AP 0 when nothing was detected.

mmdet 3.3's ``CocoMetric.compute_metrics`` hands the detections to
``COCO.loadRes``, which indexes the first result and raises ``IndexError``
on an empty list; mmdet catches it, logs ``ERROR ... The testing results of
the whole dataset is empty`` and returns no metric at all, so tools/test.py
prints no AP table although COCO's answer is AP 0 (every ground-truth object
missed).

:class:`ZooCocoMetric` differs from mmdet's ``CocoMetric`` in two places:

* its ground-truth API is :class:`EmptyResultsCOCO`, whose ``loadRes``
  turns an empty result list into an empty result set instead of raising,
  so mmdet's own evaluation runs and prints COCO's table with zeros;
* ``compute_metrics`` warns that nothing was detected and adds
  ``num_detections`` (the detections evaluated, all images) to the metrics,
  which tools/benchmark.py reads to flag such rows.
"""
import copy
from typing import Dict, List, Optional, Union

from mmengine.logging import MMLogger

from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS


class EmptyResultsCOCO(COCO):
    """mmdet's COCO API whose :meth:`loadRes` accepts an empty list."""

    def loadRes(self, resFile: Union[str, List[dict]]) -> COCO:  # noqa: N802
        """Load results like pycocotools, an empty list included.

        Args:
            resFile (str | list[dict]): result file or COCO result dicts.

        Returns:
            COCO: the results on this API's images and categories; with no
            annotation when ``resFile`` is an empty list.
        """
        if isinstance(resFile, list) and not resFile:
            res = COCO()
            res.dataset['images'] = list(self.dataset['images'])
            res.dataset['categories'] = copy.deepcopy(
                self.dataset.get('categories', []))
            res.dataset['annotations'] = []
            res.createIndex()
            return res
        return super().loadRes(resFile)


@METRICS.register_module()
class ZooCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric``; with no detection at all it prints COCO's
    table with zeros and a warning instead of an error and no table.

    Args and behaviour otherwise as ``mmdet.evaluation.CocoMetric``. When the
    ground truth is converted from the dataset (no ``ann_file``), mmdet
    builds the COCO API itself and the empty case stays mmdet's.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._coco_api is not None:
            api = EmptyResultsCOCO()
            api.dataset = self._coco_api.dataset
            api.createIndex()
            self._coco_api = api

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """mmdet's metrics plus ``num_detections``; warns when it is 0.

        Args:
            results (list): ``(gt, pred)`` pairs of every image, as
                :meth:`process` stores them; ``pred`` has ``scores`` of
                shape (K,).

        Returns:
            dict[str, float]: e.g. ``segm_mAP`` ... and ``num_detections``.
        """
        num = sum(len(pred['scores']) for _, pred in results)
        if num == 0:
            MMLogger.get_current_instance().warning(
                f'nothing was detected on any of the {len(results)} test '
                'images: COCO AP is 0 (check test_cfg.score_thr and the '
                'checkpoint)')
        metrics = super().compute_metrics(results)
        if not self.format_only:
            metrics['num_detections'] = float(num)
        return metrics


def use_zoo_coco_metric(evaluator: Optional[Union[dict, list]]) -> None:
    """Switch every ``CocoMetric`` of an evaluator config to
    :class:`ZooCocoMetric`, in place.

    Args:
        evaluator (dict | list | None): ``cfg.test_evaluator`` or
            ``cfg.val_evaluator``.
    """
    evs = evaluator if isinstance(evaluator, list) else [evaluator]
    for ev in evs:
        if ev is not None and ev.get('type') in ('CocoMetric',
                                                 'mmdet.CocoMetric'):
            ev['type'] = 'ZooCocoMetric'
