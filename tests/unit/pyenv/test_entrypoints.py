from __future__ import annotations

import pytest

from jupyter_jobs.pyenv.entrypoints import find_entry_points

FILES = {
    "main.py": "",
    "other.py": "",
    "train.py": "",
    "scripts/t.py": "",
    "run.py": "#!/usr/bin/env python3\nprint(1)\n",
    "plain.py": "print(1)\n",
    "tool": "#!/usr/bin/python3 -u\n",
    "roots/a.py": "",
    "roots/b/c.py": "",
}


@pytest.mark.parametrize(
    "cmd, files, modules",
    [
        ("python main.py --epochs 3", ["main.py"], []),
        ("python3 -u -X dev -W ignore main.py", ["main.py"], []),
        ("python3 -uXdev -Wignore -B main.py", ["main.py"], []),
        ("python3.11 -OO main.py", ["main.py"], []),
        ("/usr/bin/python3 main.py", ["main.py"], []),
        ("FOO=1 BAR=${X} python main.py", ["main.py"], []),
        ("env -u HOME A=1 nohup python main.py", ["main.py"], []),
        ("python -c 'import x' main.py", [], []),
        ("python -m pkg.train --lr 1", [], ["pkg.train"]),
        ("python -mpkg.train", [], ["pkg.train"]),
        ("python -u -m pkg.train other.py", ["other.py"], ["pkg.train"]),
        ("python main.py other.py notthere.py", ["main.py", "other.py"], []),
        ("deepspeed main.py --num_gpus=1 --deepspeed_stage 2", ["main.py"], []),
        ("deepspeed --num_gpus 2 --include localhost:0 main.py", ["main.py"], []),
        ("torchrun --nproc_per_node 2 --nnodes=1 scripts/t.py", ["scripts/t.py"], []),
        ("torchrun --nproc_per_node 2 -m pkg.train", [], ["pkg.train"]),
        ("accelerate launch --num_processes 2 --mixed_precision fp16 train.py", ["train.py"], []),
        ("python -m torch.distributed.run --nproc_per_node=2 train.py", ["train.py"], ["torch.distributed.run"]),
        ("mpirun -np 4 python train.py", ["train.py"], []),
        ("./run.py --x 1", ["run.py"], []),
        ("run.py", ["run.py"], []),
        ("./plain.py", [], []),
        ("./tool arg", ["tool"], []),
        ("python ${SCRIPT} main.py", [], []),
        ("echo start && python main.py > out.txt 2>&1; python other.py | tee log", ["main.py", "other.py"], []),
        ("cd . && \\\n  python main.py \\\n  --x 1\npython train.py", ["main.py", "train.py"], []),
        ("bash -c 'echo hi'", [], []),
    ],
)
def test_entry_points(tree, cmd, files, modules):
    base = tree(FILES)
    found = find_entry_points(cmd, base)
    assert found.files == files
    assert found.modules == modules


def test_missing_script_is_reported(tree):
    base = tree(FILES)
    assert find_entry_points("python nothere.py", base).missing == ["nothere.py"]
    assert find_entry_points("python ../outside.py", base).missing == ["../outside.py"]


def test_root_paths_files_and_folders(tree):
    base = tree(FILES)
    found = find_entry_points("python main.py", base, ["other.py", "roots", "gone.py"])
    assert found.files == ["main.py", "other.py", "roots/a.py", "roots/b/c.py"]
    assert found.missing == ["gone.py"]


def test_unbalanced_quotes_do_not_crash(tree):
    base = tree(FILES)
    assert find_entry_points("python main.py 'oops", base).files == ["main.py"]
