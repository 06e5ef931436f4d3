"""A fork: the submit that runs a stored run again with the changes a `ForkRequest` asks for."""

from __future__ import annotations

from ..errors import SubmitError
from ..spec.bundle import Bundle
from ..spec.models import JobSpec
from .blobs import BlobStore
from .db import RunRow
from .schemas import ForkRequest, SubmitRequest


def fork_request(parent: RunRow, request: ForkRequest, blobs: BlobStore,
                 executor: str | None) -> tuple[SubmitRequest, list[str]]:
    """The parent's spec and bundle with the changed args, variables, env vars, parameters and type;
    each change is checked against what the parent run has. Also the warnings for the run's notes
    (parameters the notebook does not take, passed with `lenient`)."""
    spec = JobSpec.model_validate(parent.spec)
    bundle = Bundle.model_validate(parent.bundle)
    unknown = set(request.args) - set(spec.args)
    if unknown:
        raise SubmitError(f"--arg {sorted(unknown)[0]}: the job has no such argument",
                          hint=f"its args: {', '.join(spec.args) or 'none'}")
    spec.args.update(request.args)
    spec.env.vars.update(request.env_vars)
    by_var = {ref.var: ref for ref in spec.inputs + spec.outputs if ref.var}
    for var in list(request.inputs) + list(request.outputs):
        if var not in by_var:
            raise SubmitError(f"--var {var}: the job has no input or output variable {var}",
                              hint=f"its variables: {', '.join(by_var) or 'none'}")
    for var, new_input in request.inputs.items():
        ref = by_var[var]
        if ref not in spec.inputs:
            raise SubmitError(f"--var {var} names an output; give it a path with --var {var}=PATH")
        index = next(i for i, b in enumerate(bundle.inputs) if b.ref == ref.path)
        ref.path = new_input.ref
        bundle.inputs[index] = new_input
    for var, path in request.outputs.items():
        by_var[var].path = path
    origin = parent.origin
    notes: list[str] = []
    if request.parameters:
        from ..notebook.parameters import injected_literals
        from ..notebook.rerun import with_parameters

        bundle, notes = with_parameters(bundle, blobs, request.parameters, request.lenient)
        origin = {**origin, "parameters": {**origin.get("parameters", {}), **injected_literals(request.parameters)}}
    if request.instance_type:
        spec.instance_types = [request.instance_type]
    spec.name = request.name or spec.name
    spec.desc = request.desc or spec.desc
    return SubmitRequest(spec=spec, bundle=bundle, origin=origin, executor=executor or parent.executor,
                         parent_id=parent.id, idempotency_key=request.idempotency_key), notes
