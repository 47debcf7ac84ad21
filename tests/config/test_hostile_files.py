"""Files a user (or a fuzzer) hands over that are not what they should be: each gets one clear error, no
traceback, and nothing is replaced that should not be."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helixmoe.atomic import write_text_atomic
from helixmoe.config import SystemConfig
from helixmoe.config.loader import apply_overrides, read_mapping
from helixmoe.errors import ConfigError, DataError
from helixmoe.tasks.jsonl import atomic_write_lines, read_jsonl


def test_a_config_that_is_not_utf8_or_nests_too_deeply_is_a_config_error(tmp_path: Path) -> None:
    binary = tmp_path / "system.yaml"
    binary.write_bytes(b"name: \xff\xfe\x00binary\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_mapping(binary)
    for name, text in (("deep.yaml", "a: " + "[" * 100_000), ("deep.toml", "a = " + "[" * 100_000)):
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match="a value is nested too deeply"):
            read_mapping(tmp_path / name)
    with pytest.raises(ConfigError, match="cannot parse its 50000-character value") as err:
        apply_overrides({}, ["training.lr=" + "[" * 50_000])
    assert len(str(err.value)) < 200


def test_a_jsonl_line_nested_too_deeply_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"a": 1}\n' + "[" * 100_000 + "\n")
    with pytest.raises(DataError, match=r"data\.jsonl:2: invalid JSON: nested too deeply"):
        list(read_jsonl(path))
    path.write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        list(read_jsonl(path))


def test_atomic_writes_refuse_directories_and_special_files_and_write_through_symlinks(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (folder, fifo):
        for write in (lambda p: write_text_atomic(p, "x"), lambda p: atomic_write_lines(p, ["x"])):
            with pytest.raises(DataError, match="cannot write a file there"):
                write(target)
    assert folder.is_dir() and fifo.is_fifo() and not list(tmp_path.glob(".*.tmp"))
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_corpus_export_refuses_to_overwrite_the_corpus_it_reads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from helixmoe import tasks
    from helixmoe.cli.app import app

    corpus = tmp_path / "corpus"
    tasks.build_corpus(corpus, 40, seed=3)
    before = (corpus / "test.jsonl").read_bytes()
    result = CliRunner().invoke(
        app, ["corpus", "export", "-c", str(corpus), "-o", str(corpus / "test.jsonl")]
    )
    assert isinstance(result.exception, DataError)  # the CLI's main prints it as one line
    assert "a file of the corpus being exported" in str(result.exception)
    assert (corpus / "test.jsonl").read_bytes() == before
    for command in ("export", "grade"):
        args = ["corpus", command, "-c", str(corpus), "--split", "bogus"]
        args += (
            ["-o", str(tmp_path / "out.jsonl")] if command == "export" else ["-a", str(tmp_path / "a.jsonl")]
        )
        result = CliRunner().invoke(app, args)
        assert isinstance(result.exception, DataError) and "--split 'bogus'" in str(result.exception), command
    assert not (tmp_path / "out.jsonl").exists()


def test_a_system_name_cannot_lead_out_of_the_systems_folder() -> None:
    base = {"experts": {"ascii": {"description": "x", "families": ["convert"]}}}
    for name in ("../../escaped", "/tmp/abs", "..", " padded"):
        with pytest.raises(ValueError, match="system name"):
            SystemConfig.model_validate({**base, "name": name})
    assert SystemConfig.model_validate({**base, "name": "hlx tiny v2"}).name == "hlx tiny v2"


def test_hand_edited_router_files_fail_at_load_naming_the_file(tmp_path: Path) -> None:
    import json
    import shutil

    from helixmoe.errors import SystemLoadError
    from helixmoe.routing import load_router
    from helixmoe.system import default_system_path

    drop = object()  # a field removed from the file
    edits = [
        ("router.json", {"threshold": "abc"}, "bad cascade setting"),
        ("router.json", {"abstain": None}, "bad cascade setting"),
        ("router.json", {"threshold": 7}, "threshold must be within"),
        ("router.json", {"default": 3}, "default must be an expert name"),
        ("router.json", {"kind": "keyword"}, "bad keyword router: missing field 'rules'"),
        ("router.json", {"threshold": drop}, "bad cascade setting: missing field 'threshold'"),
        ("first/router.json", {"classes": ["ascii"]}, "classes must be a list of at least two"),
        ("first/router.json", {"classes": ["a", "b"]}, "do not fit 2 classes"),
        ("first/router.json", {"blocks": []}, "no feature blocks"),
        ("first/router.json", {"temperature": 0}, "temperature must be a positive number"),
    ]
    for file, change, message in edits:
        root = tmp_path / "router"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(default_system_path() / "router", root)
        meta = json.loads((root / file).read_text())
        (root / file).write_text(json.dumps({k: v for k, v in {**meta, **change}.items() if v is not drop}))
        with pytest.raises(SystemLoadError, match=message):
            load_router(root)
    assert load_router(default_system_path() / "router").kind == "cascade"


@pytest.mark.parametrize(
    "file",
    [
        "router/router.json",
        "router/first/router.json",
        "experts/ascii/expert.json",
        "experts/ascii/adapter_config.json",
        "base/config.json",
        "tokenizer/tokenizer.json",
        "tokenizer/tokenizer_config.json",
    ],
)
def test_a_system_file_nested_too_deeply_fails_at_load_naming_it(tmp_path: Path, file: str) -> None:
    """Every JSON file of a system directory is read before a library parses it: 100 000 nested brackets
    are one SystemLoadError that names the file (were RecursionError tracebacks)."""
    import shutil

    from helixmoe.errors import SystemLoadError
    from helixmoe.system import HelixMoE, default_system_path

    root = tmp_path / "system"
    shutil.copytree(default_system_path(), root)
    (root / file).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SystemLoadError, match=Path(file).name.replace(".", r"\.")):
        HelixMoE.load(root)


def test_a_tokenizer_without_its_config_is_refused(tmp_path: Path) -> None:
    """Without tokenizer_config.json the tokenizer loads with no EOS, and every answer ran to the token cap
    as garbage: refused at load instead."""
    import shutil

    from helixmoe.errors import SystemLoadError
    from helixmoe.models.tokenizer import load_tokenizer
    from helixmoe.system import default_system_path

    root = tmp_path / "tokenizer"
    shutil.copytree(default_system_path() / "tokenizer", root)
    assert load_tokenizer(root).eos_token is not None
    (root / "tokenizer_config.json").unlink()
    with pytest.raises(SystemLoadError, match="no end-of-sequence token"):
        load_tokenizer(root)
