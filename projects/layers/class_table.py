"""Values declared per class and found along a class's MRO: how a method's
package tells the floors above it about its own classes (stage maps, ONNX
output layouts, mask bases) without those floors importing the method.

Why our own: mmengine's ``Registry`` maps names to classes, not classes to
data, and has no lookup along the MRO (a subclass should use its parent's
declaration unless it declares its own).
"""
import functools
from typing import Callable, Dict, Generic, Optional, Type, TypeVar, Union

V = TypeVar('V')


class ClassTable(Generic[V]):
    """A table of values keyed by class, looked up along the MRO.

    Args:
        what (str): what a value is, for error messages ('ONNX output
            layout').
        defaults (Callable[[], dict], optional): entries for OpenMMLab's
            classes, built on first lookup (mmdet is imported lazily);
            declared entries win over them.
        hint (str): how to declare one, appended to the lookup error.
    """

    def __init__(self, what: str,
                 defaults: Optional[Callable[[], Dict[type, V]]] = None,
                 hint: str = '') -> None:
        self.what = what
        self.hint = hint
        self._defaults = functools.lru_cache(maxsize=None)(
            defaults or dict)
        self._declared: Dict[type, V] = {}

    def declare(self, cls: Type, value: V) -> None:
        """Use ``value`` for ``cls`` and its subclasses (unless a subclass
        declares its own)."""
        self._declared[cls] = value

    def register(self, value: V) -> Callable[[Type], Type]:
        """A class decorator form of :meth:`declare`; it returns the class
        unchanged."""
        def decorate(cls: Type) -> Type:
            self.declare(cls, value)
            return cls
        return decorate

    def entries(self) -> Dict[type, V]:
        """Every entry: the defaults, then the declared ones."""
        return {**self._defaults(), **self._declared}

    def get(self, obj: Union[type, object],
            default: Optional[V] = None) -> Optional[V]:
        """The value of ``obj``'s class (or ``obj`` itself when it is a
        class) or its nearest parent with one; ``default`` when none."""
        cls = obj if isinstance(obj, type) else type(obj)
        entries = self.entries()
        for klass in cls.__mro__:
            if klass in entries:
                return entries[klass]
        return default

    def lookup(self, obj: Union[type, object]) -> V:
        """Like :meth:`get`, for a value that must exist.

        Raises:
            NotImplementedError: neither the class nor a parent has a value;
                the message names the class, the classes that have one and
                :attr:`hint`.
        """
        value = self.get(obj)
        if value is None:
            cls = obj if isinstance(obj, type) else type(obj)
            names = ', '.join(sorted(c.__name__ for c in self.entries()))
            raise NotImplementedError(
                f'{cls.__name__}: no {self.what}; declared for (and '
                f'subclasses): {names}. {self.hint}'.rstrip())
        return value
