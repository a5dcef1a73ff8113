"""These docs build with warnings as errors."""

from conftest import repo_path, run


def test_docs_build_without_warnings(tmp_path):
    run([repo_path("bin", "sphinx-build"), "-W", "--keep-going", "-n", "-q", "-b", "html",
         repo_path("docs"), str(tmp_path)], timeout=300)
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "machinery.html").exists()
