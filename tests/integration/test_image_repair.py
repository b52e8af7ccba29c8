"""qcow2 repair (`check -r leaks|all`): refcounts rebuilt from the metadata,
checked by qemu-img check afterwards, guest data untouched."""

import pytest

from image_helpers import (Qcow2, ferry, have_qemu_img, qemu_img, same_bytes,
                           write_pattern_raw)

pytestmark = [pytest.mark.skipif(not have_qemu_img(), reason="qemu-img (qemu-utils) missing"),
              pytest.mark.sanitizer]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_pattern_raw(tmp_path_factory.mktemp("repair") / "base.raw")


@pytest.fixture(params=["1.1", "0.10"])
def image(request, tmp_path, base):
    img = tmp_path / "img.qcow2"
    qemu_img("convert", "-O", "qcow2", "-o", f"compat={request.param}", base, img)
    # One spare cluster inside the file, referenced by nothing.
    with open(img, "ab") as f:
        f.write(bytes(Qcow2(img).cluster_size))
    return img


def data_cluster(q):
    """The host cluster of the first allocated guest cluster."""
    l2 = q.first_l2_offset()
    for j in range(q.cluster_size // 8):
        entry = q.read_u64(l2 + 8 * j)
        if entry & 0x00FFFFFFFFFFFE00:
            return (entry & 0x00FFFFFFFFFFFE00) // q.cluster_size
    raise AssertionError("no data cluster")


def spare_cluster(img, q):
    return img.stat().st_size // q.cluster_size - 1


def test_repair_leaks(tmp_path, image, base):
    q = Qcow2(image)
    q.set_refcount(spare_cluster(image, q), 1)
    assert ferry("check", image, check=False).returncode == 3
    r = ferry("check", "-r", "leaks", image, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 leaked clusters" in r.stdout and "No errors were found" in r.stdout
    assert qemu_img("check", image).returncode == 0
    assert qemu_img("compare", "-F", "raw", image, base).returncode == 0


def test_repair_all_fixes_low_refcount_and_copied_flags(tmp_path, image, base):
    q = Qcow2(image)
    q.set_refcount(data_cluster(q), 0)       # refcount below use: corruption
    q.set_refcount(spare_cluster(image, q), 3)  # leak
    assert ferry("check", image, check=False).returncode == 2
    # -r leaks fixes the leak only; the corruption stays.
    r = ferry("check", "-r", "leaks", image, check=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Leaked" not in ferry("check", image, check=False).stdout
    r = ferry("check", "-r", "all", image, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert qemu_img("check", image).returncode == 0
    assert qemu_img("compare", "-F", "raw", image, base).returncode == 0


def test_repair_shared_cluster_clears_copied_flag(tmp_path, image, base):
    q = Qcow2(image)
    q.set_refcount(data_cluster(q), 2)  # leak, and "copied" now wrong: corruption
    assert ferry("check", image, check=False).returncode == 2
    assert ferry("check", "-r", "all", image, check=False).returncode == 0
    assert qemu_img("check", image).returncode == 0
    out = tmp_path / "out.raw"
    ferry("convert", image, out)
    assert same_bytes(out, base)


def test_broken_l2_entry_is_not_repaired(tmp_path, image):
    q = Qcow2(image)
    l2 = q.first_l2_offset()
    for j in range(q.cluster_size // 8):
        if q.read_u64(l2 + 8 * j):
            q.write_u64(l2 + 8 * j, (1 << 63) | (1 << 50))  # far past the end
            break
    before = image.read_bytes()
    r = ferry("check", "-r", "all", image, check=False)
    assert r.returncode == 1 and "cannot repair" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert image.read_bytes() == before


def test_repair_clean_image_changes_nothing(tmp_path, base):
    img = tmp_path / "clean.qcow2"
    qemu_img("convert", "-O", "qcow2", base, img)
    before = img.read_bytes()
    assert ferry("check", "-r", "all", img).returncode == 0
    assert img.read_bytes() == before
