"""The runtime images follow their files: the tag names a hash of the Dockerfile and what it copies
(libraries.txt, scripts), `built()` calls an image of older files stale and `build()` makes the
new one. The hash and the library lists need no engine; the build test does (marker docker)."""

from __future__ import annotations

import shutil
import uuid

import pytest

from codealchemy.tracer import images
from codealchemy.tracer.languages import RUNTIMES

from ..conftest import docker_problem


def copy_runtime(tmp_path, lang_id: str):
    shutil.copytree(RUNTIMES / lang_id, tmp_path / lang_id)
    return tmp_path / lang_id


def test_the_tag_changes_with_the_library_list_and_copied_files_only(tmp_path):
    folder = copy_runtime(tmp_path, "go")
    before = images.tag("go", tmp_path)
    assert before == images.tag("go"), "a copy of the same files names the same image"
    assert before.startswith(f"codealchemy/runtime-go:{images.version()}-")
    (folder / "runtime.toml").write_text((folder / "runtime.toml").read_text() + "\n# not in the image\n")
    assert images.tag("go", tmp_path) == before
    (folder / "libraries.txt").write_text((folder / "libraries.txt").read_text() + "github.com/nowhere/extra\n")
    edited = images.tag("go", tmp_path)
    assert edited != before
    (folder / "warm-cache.sh").write_text((folder / "warm-cache.sh").read_text() + "\n# changed\n")
    assert images.tag("go", tmp_path) not in (before, edited)


def test_context_files_follow_copy_and_add_but_not_other_stages(tmp_path):
    folder = tmp_path / "x"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.sh", "sub/c", "unused"):
        (folder / name).write_text(name)
    (folder / "Dockerfile").write_text("FROM scratch AS s\nCOPY --from=s /x /y\nCOPY --chmod=755 a.txt \\\n"
                                       "  b.sh /opt/\nadd [\"sub\", \"/opt/sub\"]\n# COPY unused /z\n")
    assert [p.relative_to(folder).as_posix() for p in images.context_files(folder)] == \
        ["Dockerfile", "a.txt", "b.sh", "sub/c"]


def test_every_library_list_is_copied_into_its_image():
    """Every runtime has a list (one without libraries says why in a comment), and a list that
    its Dockerfile does not read would be a list of nothing."""
    for lang_id, folder in images.dockerfiles().items():
        assert (folder / images.LIBRARIES).is_file(), f"runtimes/{lang_id} has no {images.LIBRARIES}"
        if images.libraries(lang_id):
            assert folder / images.LIBRARIES in images.context_files(folder), \
                f"runtimes/{lang_id}/Dockerfile does not COPY its {images.LIBRARIES}"
        else:
            assert (folder / images.LIBRARIES).read_text().startswith("#"), f"runtimes/{lang_id}: say why none"


@pytest.mark.parametrize("lang_id,module,package", [
    ("python", "yaml", "PyYAML"), ("python", "bs4", "beautifulsoup4"), ("python", "numpy", "numpy"),
    ("python", "dateutil", "python-dateutil"), ("python", "sklearn", "scikit-learn"),
    ("python", "nowhere_at_all", None),
    ("javascript", "lodash", "lodash"), ("ruby", "active_support", "activesupport"),
    ("rust", "serde_json", "serde_json"), ("rust", "num_bigint", "num-bigint"),
    ("go", "github.com/google/uuid", "github.com/google/uuid"), ("go", "golang.org/x/exp/slices", "golang.org/x/exp"),
    ("go", "github.com/google/uuidx", None),
    ("java", "com.google.common.collect", "com.google.guava:guava"), ("c", "gmp.h", "libgmp-dev"),
    ("cpp", "boost/regex.hpp", "libboost-dev"), ("bash", "jq", "jq"),
])
def test_a_missing_module_names_the_package_that_has_it(lang_id, module, package):
    assert images.package_for(lang_id, module) == package


def test_a_bad_line_is_refused_with_its_place(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / images.LIBRARIES).write_text("# fine\nok@1 --opt imp\n@@bad\n")
    with pytest.raises(ValueError, match=r"libraries.txt:3"):
        images.libraries("x", tmp_path)
    (tmp_path / "x" / images.LIBRARIES).write_text("ok@1 --opt imp  # comment\n@scope/pkg@2\n")
    assert images.libraries("x", tmp_path) == [images.Library("ok", "1", ("--opt",), ("imp",)),
                                               images.Library("@scope/pkg", "2")]


@pytest.mark.docker
@pytest.mark.skipif(docker_problem() is not None, reason=f"no Docker engine: {docker_problem()}")
def test_an_edited_list_makes_the_image_stale_and_build_makes_the_new_one(tmp_path):
    lang_id = f"selftest-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / lang_id
    folder.mkdir()
    (folder / "Dockerfile").write_text(f"FROM {images.BASE_IMAGE}\nCOPY {images.LIBRARIES} /opt/{images.LIBRARIES}\n")
    (folder / images.LIBRARIES).write_text("first\n")
    c = images.client()
    made = []
    try:
        assert lang_id not in images.built(c, tmp_path)
        first = images.tag(lang_id, tmp_path)
        ok, _, _ = images.build([lang_id], lambda _: None, c=c, root=tmp_path)[lang_id]
        made.append(first)
        assert ok and images.built(c, tmp_path)[lang_id]["stale"] is False
        assert images.build([lang_id], lambda _: None, c=c, root=tmp_path)[lang_id][2] == "up to date"

        (folder / images.LIBRARIES).write_text("first\nsecond\n")
        second = images.tag(lang_id, tmp_path)
        assert second != first
        info = images.built(c, tmp_path)[lang_id]
        assert info["stale"] is True and info["tag"] == first
        ok, _, last = images.build([lang_id], lambda _: None, c=c, root=tmp_path)[lang_id]
        made.append(second)
        assert ok and last != "up to date"
        assert images.built(c, tmp_path)[lang_id] == {**images.built(c, tmp_path)[lang_id], "tag": second,
                                                      "stale": False}
        out = c.containers.run(second, ["cat", f"/opt/{images.LIBRARIES}"], remove=True, network_mode="none")
        assert out == b"first\nsecond\n"
        assert [r["tag"] for r in images.prune(c, tmp_path, dry_run=True)] == [first]
        assert [(r["tag"], r["removed"]) for r in images.prune(c, tmp_path)] == [(first, True)]
        assert images.prune(c, tmp_path) == [] and images.built(c, tmp_path)[lang_id]["tag"] == second
    finally:
        for t in made:
            try:
                c.images.remove(t, force=True)
            except Exception:
                pass


def test_a_language_without_a_runtime_folder_names_an_image_that_is_not_there(tmp_path):
    """The docker backend asks for it and answers sandbox_error 'not built' (it must not raise)."""
    assert images.tag("no-such-language", tmp_path).startswith("codealchemy/runtime-no-such-language:")
