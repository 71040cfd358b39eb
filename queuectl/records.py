"""Plain record classes, declared like dataclasses but made without `dataclasses`.

Importing `dataclasses` pulls in `inspect`, `dis` and `ast`, and decorating a class with it
generates and compiles half a dozen methods: together about a third of the start-up of
`queuectl run` (measured with `python -X importtime` and cProfile). A record needs less: an
`__init__` (generated once per class, so building one costs what a hand-written one would),
field-wise equality and repr, and frozen classes. Type checkers are told these are
dataclasses, which is what the classes mean to them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from dataclasses import MISSING, Field, field, fields
    from dataclasses import dataclass as record
    from typing import Any, Callable
else:

    class _Missing:
        def __repr__(self) -> str:
            return "MISSING"

    MISSING = _Missing()

    class Field:
        """One declared field: its name, its annotation (as text) and what `field` said."""

        __slots__ = ("name", "type", "default", "default_factory", "metadata")

        def __init__(self, default=MISSING, default_factory=MISSING, metadata=None):
            self.name = ""
            self.type = ""
            self.default = default
            self.default_factory = default_factory
            self.metadata = dict(metadata or {})

    def field(*, default=MISSING, default_factory=MISSING, metadata=None) -> Any:
        return Field(default, default_factory, metadata)

    def fields(cls_or_record) -> tuple:
        return cls_or_record.__record_fields__

    def record(cls=None, *, frozen=False):
        """Make `cls` a record of its annotated fields, in their order."""
        if cls is None:
            return lambda inner: _make(inner, frozen)
        return _make(cls, frozen)

    def _make(cls: type, frozen: bool) -> type:
        declared = _declared_fields(cls)
        cls.__record_fields__ = declared
        cls.__init__ = _first_init(cls, declared, frozen)
        cls.__repr__ = _repr
        cls.__eq__ = _eq
        if frozen:
            cls.__setattr__ = cls.__delattr__ = _refuse_change
            cls.__hash__ = _hash
        else:
            cls.__hash__ = None  # mutable and compared by value, as a dataclass is
        return cls

    def _declared_fields(cls) -> tuple:
        declared = []
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            given = cls.__dict__.get(name, MISSING)
            item = given if isinstance(given, Field) else Field(default=given)
            item.name, item.type = name, annotation
            if item.default is MISSING and name in cls.__dict__:
                delattr(cls, name)  # a factory or a bare field(): no class-level value
            elif item.default is not MISSING:
                setattr(cls, name, item.default)
            declared.append(item)
        return tuple(declared)

    def _first_init(cls, declared: tuple, frozen: bool) -> Callable[..., None]:
        """An `__init__` that makes the class's own on the first call: compiling one costs
        a third of a millisecond, and `queuectl run` declares some twenty records but
        builds few of them."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if cls.__dict__["__init__"] is __init__:
                cls.__init__ = _init(cls, declared, frozen)
            cls.__init__(self, *args, **kwargs)

        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        return __init__

    def _init(cls, declared: tuple, frozen: bool) -> Callable[..., None]:
        # Generated source, as dataclasses does: a loop over the fields at every call would
        # make building the rows of a long listing several times slower.
        namespace: dict[str, Any] = {"MISSING": MISSING, "set_field": object.__setattr__}
        params, lines = [], []
        for item in declared:
            if item.default_factory is not MISSING:
                namespace[f"_factory_{item.name}"] = item.default_factory
                params.append(f"{item.name}=MISSING")
                value = f"_factory_{item.name}() if {item.name} is MISSING else {item.name}"
            else:
                if item.default is not MISSING:
                    namespace[f"_default_{item.name}"] = item.default
                    params.append(f"{item.name}=_default_{item.name}")
                else:
                    params.append(item.name)
                value = item.name
            if frozen:
                lines.append(f"    set_field(self, {item.name!r}, {value})")
            else:
                lines.append(f"    self.{item.name} = {value}")
        source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(lines or ["    pass"])
        exec(source, namespace)
        init = namespace["__init__"]
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        return init

    def _values(self) -> tuple:
        return tuple(getattr(self, item.name) for item in self.__record_fields__)

    def _repr(self) -> str:
        shown = ", ".join(f"{item.name}={getattr(self, item.name)!r}" for item in fields(self))
        return f"{type(self).__qualname__}({shown})"

    def _eq(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def _hash(self) -> int:
        return hash(_values(self))

    def _refuse_change(self, name: str, *value: object) -> None:
        raise AttributeError(f"cannot change field {name!r} of a frozen {type(self).__name__}")
