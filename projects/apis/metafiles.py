"""Method names and the papers' reference figures from the zoo's metafiles,
``configs/<method>/metafile.yml`` in the OpenMMLab model-index format::

    Collections:
      - Name: SAIS                        # the method's display name
        Metadata:
          Architecture: [SAISHead, SAISMaskHead]   # registered types
        Paper: {Title: ..., URL: ...}
    Models:
      - Name: sais_r50_fpn_8xb2-1x_coco-640
        In Collection: SAIS
        Config: configs/sais/sais_r50_fpn_8xb2-1x_coco-640.py
        Reported In: SAIS paper, Table IV  # only on the paper's figures
        Metadata: {Training Memory (GB): 1.8}
      - Name: sais_r50_fpn_1xb2-200i_feral-cats-384
        In Collection: SAIS
        Config: configs/sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py
        Protocol: {Key: sais, Prototypes: true}   # a row of the protocol

Why our own: mmdet 3.3 ships metafiles but no reader of them (only the
``mim`` CLI reads ``model-index.yml``, to download weights), and the
benchmark must not type method names or paper figures in its code.
"""
import glob
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

import yaml


class MetafileError(ValueError):
    """A metafile is malformed; the message names the file."""


@dataclass(frozen=True)
class Collection:
    """One ``Collections`` entry: a method.

    Attributes:
        name (str): the method's display name.
        architecture (tuple[str]): registered type names identifying it.
        file (str): the metafile it comes from.
        paper (dict): ``Title``, ``URL``, ... (may be empty).
    """
    name: str
    architecture: Tuple[str, ...]
    file: str
    paper: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelEntry:
    """One ``Models`` entry: a config of a method.

    Attributes:
        name (str): the entry's name.
        collection (str): its ``In Collection``.
        config (str | None): ``Config``, normalised relative to the repo.
        reported_in (str | None): ``Reported In``: the figures' source
            when they are a paper's.
        metadata (dict): ``Metadata``.
        file (str): the metafile it comes from.
        protocol (dict): ``Protocol``: the config is the method's row of
            the benchmark protocol (docs/protocol.md). ``Key`` (str) names
            the row and its runs; ``Prototypes`` (bool, default false): the
            method has a prototype mask branch (``mask_head.protonet``),
            whose statistics the protocol logs; ``Masks`` (bool, default
            true): false for a box detector; ``Claims`` (tuple[Claim],
            default none): the source documents' comparisons with other
            rows. Empty for other configs.
        results (list[dict]): ``Results``: each a ``Task``, ``Dataset``
            and ``Metrics`` mapping (the paper's figures where the Model
            has ``Reported In``).
    """
    name: str
    collection: str
    config: Optional[str]
    reported_in: Optional[str]
    metadata: Dict[str, Any]
    file: str
    protocol: Dict[str, Any] = field(default_factory=dict)
    results: List[Dict[str, Any]] = field(default_factory=list)


#: A claim's metric: the protocol figure it compares. ``mask AP`` /
#: ``box AP``: mean over seeds (%); ``ms/img``: median inference latency;
#: ``train memory``: the training state (MiB), else the peak memory.
CLAIM_METRICS = ('mask AP', 'box AP', 'ms/img', 'train memory')
#: How a claim relates the declaring method to the other: its figure is
#: higher (``Above``), lower (``Below``) or the same within the seed spread
#: (``About``).
CLAIM_RELATIONS = ('Above', 'Below', 'About')


@dataclass(frozen=True)
class Claim:
    """A source document's comparison of two protocol rows, declared by
    the method that makes it (``Protocol: {Claims: [...]}`` in its
    metafile), e.g. SAIS's mask AP above YOLACT's (SAIS paper, Table IV).

    Attributes:
        metric (str): a key of :data:`CLAIM_METRICS`.
        relation (str): one of :data:`CLAIM_RELATIONS`.
        other (str): the protocol ``Key`` it is compared with.
        source (str): the document, section or table that claims it.
    """
    metric: str
    relation: str
    other: str
    source: str


def default_root() -> str:
    """The repository's ``configs/``: beside the ``projects`` package when
    it is an editable checkout, else under the working directory."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    beside = osp.join(repo, 'configs')
    return beside if osp.isdir(beside) else osp.join(os.getcwd(), 'configs')


def registered_types(cfg: Any) -> Set[str]:
    """Every ``type`` in a (model) config, recursively, without registry
    scope (``'mmdet.SOLO'`` -> ``'SOLO'``); a class counts by name."""
    found: Set[str] = set()
    if isinstance(cfg, dict):
        kind = cfg.get('type')
        if isinstance(kind, type):
            kind = kind.__name__
        if isinstance(kind, str):
            found.add(kind.rsplit('.', 1)[-1])
        for v in cfg.values():
            found |= registered_types(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            found |= registered_types(v)
    return found


def fallback_method(model_cfg: dict) -> str:
    """The ``bbox_head`` / ``mask_head`` type, else the model type: the name
    of a model no metafile knows."""
    head = model_cfg.get('bbox_head') or model_cfg.get('mask_head') or {}
    return head.get('type') or str(model_cfg.get('type'))


class MethodIndex:
    """Every ``<root>/*/metafile.yml``, read once.

    Args:
        root (str, optional): the configs folder; default
            :func:`default_root`. It may lack metafiles (or not exist):
            then every lookup falls back (see :meth:`method_of`).
        repo_root (str, optional): what ``Config`` paths are relative to;
            default the parent of ``root``.

    Raises:
        MetafileError: malformed YAML or entries, a Collection named in two
            metafiles, or a Model whose ``In Collection`` no metafile has;
            the message names the file.
    """

    def __init__(self, root: Optional[str] = None,
                 repo_root: Optional[str] = None) -> None:
        self.root = osp.abspath(root or default_root())
        self.repo_root = osp.abspath(repo_root or osp.dirname(self.root))
        self.files = sorted(glob.glob(osp.join(self.root, '*',
                                               'metafile.yml')))
        self.collections: Dict[str, Collection] = {}
        self.models: List[ModelEntry] = []
        pending = []
        for path in self.files:
            doc = _load(path)
            for entry in _entries(doc, 'Collections', path):
                coll = _collection(entry, path)
                if coll.name in self.collections:
                    raise MetafileError(
                        f'{path}: Collection {coll.name!r} is also in '
                        f'{self.collections[coll.name].file}')
                self.collections[coll.name] = coll
            pending += [(entry, path)
                        for entry in _entries(doc, 'Models', path)]
        for entry, path in pending:
            self.models.append(self._model(entry, path))

    def _model(self, entry: dict, path: str) -> ModelEntry:
        name = entry.get('Name')
        coll = entry.get('In Collection')
        if coll not in self.collections:
            raise MetafileError(
                f'{path}: Model {name!r}: In Collection {coll!r} is no '
                f'Collection of any metafile under {self.root} (known: '
                f'{", ".join(self.collections) or "none"})')
        metadata = entry.get('Metadata') or {}
        if not isinstance(metadata, dict):
            raise MetafileError(f'{path}: Model {name!r}: Metadata must be '
                                'a mapping')
        config = entry.get('Config')
        return ModelEntry(
            name=str(name), collection=coll,
            config=self.normalise(config) if config else None,
            reported_in=entry.get('Reported In'), metadata=metadata,
            file=path, protocol=_protocol(entry, path, config),
            results=_results(entry, path))

    def protocol_rows(self) -> Dict[str, ModelEntry]:
        """The Models that declare a ``Protocol`` row, by its ``Key``, in
        the order read.

        Raises:
            MetafileError: two Models declare the same ``Key``.
        """
        rows: Dict[str, ModelEntry] = {}
        for model in self.models:
            key = model.protocol.get('Key')
            if key is None:
                continue
            if key in rows:
                raise MetafileError(
                    f'{model.file}: Model {model.name!r}: Protocol Key '
                    f'{key!r} is also declared by {rows[key].name!r} in '
                    f'{rows[key].file}')
            rows[key] = model
        for model in rows.values():
            for claim in model.protocol.get('Claims', ()):
                if claim.other not in rows or claim.other == \
                        model.protocol['Key']:
                    raise MetafileError(
                        f'{model.file}: Model {model.name!r}: a Claim '
                        f'compares with {claim.other!r}, which is no other '
                        f'Protocol Key (declared: {", ".join(rows)})')
        return rows

    def normalise(self, config_path: str) -> str:
        """``config_path`` relative to the repo root, normalised
        (``os.path.normpath``); an absolute path is made relative to the
        repo root, a relative one is taken as relative to it already."""
        path = str(config_path)
        if osp.isabs(path):
            path = osp.relpath(path, self.repo_root)
        return osp.normpath(path)

    def lookup(self, config_path: Optional[str],
               model_cfg: Optional[dict] = None) -> Optional[str]:
        """The method a metafile gives the config, or None.

        (a) the Collection of the Model whose ``Config`` is
        ``config_path``; else (b) the Collection all of whose
        ``Architecture`` types occur in ``model_cfg``, the one with the
        most types (YOLACT++ over YOLACT); ties go to the first read.
        """
        if config_path:
            config = self.normalise(config_path)
            for model in self.models:
                if model.config == config:
                    return model.collection
        if model_cfg is None:
            return None
        types = registered_types(model_cfg)
        best = None
        for coll in self.collections.values():
            if coll.architecture and set(coll.architecture) <= types and (
                    best is None
                    or len(coll.architecture) > len(best.architecture)):
                best = coll
        return best.name if best else None

    def method_of(self, config_path: Optional[str], model_cfg: dict) -> str:
        """:meth:`lookup`, else (c) :func:`fallback_method`."""
        return self.lookup(config_path, model_cfg) or \
            fallback_method(model_cfg)

    def paper_figure(self, method: str,
                     key: str) -> Optional[Tuple[Any, str]]:
        """(value, source) of Metadata ``key`` (e.g. ``'Training Memory
        (GB)'``) from the first Model of ``method`` that has it and a
        ``Reported In``; None when there is none."""
        for model in self.models:
            if (model.collection == method and model.reported_in
                    and key in model.metadata):
                return model.metadata[key], str(model.reported_in)
        return None


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise MetafileError(f'{path}: malformed YAML: {e}') from e
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise MetafileError(f'{path}: needs a mapping with Collections '
                            f'and Models, not a {type(doc).__name__}')
    return doc


def _entries(doc: dict, key: str, path: str) -> List[dict]:
    entries = doc.get(key) or []
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and e.get('Name') for e in entries):
        raise MetafileError(f'{path}: {key} must be a list of mappings, '
                            'each with a Name')
    return entries


def _results(entry: dict, path: str) -> List[Dict[str, Any]]:
    results = entry.get('Results') or []
    if not isinstance(results, list) or not all(
            isinstance(r, dict) for r in results):
        raise MetafileError(f"{path}: Model {entry['Name']!r}: Results "
                            'must be a list of mappings')
    return [dict(r) for r in results]


PROTOCOL_FIELDS = {'Key': str, 'Prototypes': bool, 'Masks': bool,
                   'Claims': list}


def _claims(entries: list, where: str) -> Tuple[Claim, ...]:
    """``Claims`` entries, each ``{Metric: M, <Relation>: KEY, Source:
    S}``, as :class:`Claim` s."""
    claims = []
    for entry in entries:
        relations = [r for r in CLAIM_RELATIONS
                     if isinstance(entry, dict) and r in entry]
        if not (isinstance(entry, dict) and len(relations) == 1
                and entry.get('Metric') in CLAIM_METRICS
                and isinstance(entry[relations[0]], str)
                and isinstance(entry.get('Source'), str)
                and len(entry) == 3):
            raise MetafileError(
                f'{where}: Claims: {entry!r}; each needs Metric (one of '
                f'{", ".join(CLAIM_METRICS)}), one of '
                f'{", ".join(CLAIM_RELATIONS)} (a Protocol Key) and Source')
        claims.append(Claim(entry['Metric'], relations[0],
                            entry[relations[0]], entry['Source']))
    return tuple(claims)


def _protocol(entry: dict, path: str, config: Optional[str]) -> dict:
    proto = entry.get('Protocol')
    if proto is None:
        return {}
    where = f"{path}: Model {entry['Name']!r}: Protocol"
    if not isinstance(proto, dict) or not isinstance(proto.get('Key'), str):
        raise MetafileError(f'{where} must be a mapping with a Key (str)')
    if not config:
        raise MetafileError(f'{where} needs the Model\'s Config')
    for name, value in proto.items():
        kind = PROTOCOL_FIELDS.get(name)
        if kind is None or not isinstance(value, kind):
            raise MetafileError(
                f'{where}: {name}: {value!r}; fields: ' + ', '.join(
                    f'{k} ({t.__name__})' for k, t in PROTOCOL_FIELDS.items()))
    proto = dict(proto)
    if 'Claims' in proto:
        proto['Claims'] = _claims(proto['Claims'], where)
    return proto


def _collection(entry: dict, path: str) -> Collection:
    meta = entry.get('Metadata') or {}
    if not isinstance(meta, dict):
        raise MetafileError(f"{path}: Collection {entry['Name']!r}: "
                            'Metadata must be a mapping')
    arch = meta.get('Architecture') or []
    if isinstance(arch, str):
        arch = [arch]
    if not isinstance(arch, list) or not all(
            isinstance(a, str) for a in arch):
        raise MetafileError(f"{path}: Collection {entry['Name']!r}: "
                            'Architecture must be a list of type names')
    return Collection(name=str(entry['Name']), architecture=tuple(arch),
                      file=path, paper=dict(entry.get('Paper') or {}))


def method_of(config_path: Optional[str], model_cfg: dict,
              root: Optional[str] = None) -> str:
    """:meth:`MethodIndex.method_of` on the metafiles under ``root``."""
    return MethodIndex(root).method_of(config_path, model_cfg)


def paper_figure(method: str, key: str,
                 root: Optional[str] = None) -> Optional[Tuple[Any, str]]:
    """:meth:`MethodIndex.paper_figure` on the metafiles under ``root``."""
    return MethodIndex(root).paper_figure(method, key)
