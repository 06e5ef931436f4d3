"""Capacity of an executor on an engine that has its own nodes (a Ray cluster, a Slurm partition): what
the service's scheduler hands out, read from the engine unless the operator caps it."""

from __future__ import annotations

from traitlets import Float, HasTraits, List, Unicode, default


class EngineCapacity(HasTraits):
    """Mixed into a traitlets executor: `cpus`, `memory_gb`, `gpus` from `engine_totals()` by default."""

    cpus = Float(0, help="CPUs the executor hands out; 0 = what the engine's nodes have.").tag(config=True)
    memory_gb = Float(0, help="Memory (GB) the executor hands out; 0 = what the engine's nodes have.").tag(
        config=True)
    gpus = List(Unicode(), help="GPU slots the executor hands out (names only count; the engine picks the "
                                "devices); default: one per GPU of the engine's nodes.").tag(config=True)

    def engine_totals(self) -> tuple[float, float, int]:
        """CPUs, memory (GB) and GPUs of the nodes this executor may use (asked once, at first need)."""
        raise NotImplementedError

    @default("cpus")
    def _cpus(self):
        return float(self.engine_totals()[0])

    @default("memory_gb")
    def _memory_gb(self):
        return float(self.engine_totals()[1])

    @default("gpus")
    def _gpus(self):
        return [str(i) for i in range(self.engine_totals()[2])]
