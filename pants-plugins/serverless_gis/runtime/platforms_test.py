from serverless_gis.runtime.platforms import complete_platform, linux_platform_tags


def test_platform_tags_stop_at_the_glibc_ceiling() -> None:
    tags = linux_platform_tags("x86_64", (2, 34))
    assert tags[0] == "manylinux_2_34_x86_64"
    assert "manylinux_2_35_x86_64" not in tags
    assert tags.index("manylinux_2_17_x86_64") + 1 == tags.index("manylinux2014_x86_64")
    assert tags[-2:] == ["manylinux1_x86_64", "linux_x86_64"]


def test_aarch64_starts_at_manylinux2014() -> None:
    tags = linux_platform_tags("aarch64", (2, 34))
    assert tags[-3:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64"]
    assert not any("x86_64" in t for t in tags)


def test_complete_platform_for_aws_python313_arm64() -> None:
    platform = complete_platform(
        python_version=(3, 13), full_version="3.13.0", machine="aarch64", glibc=(2, 34)
    )
    markers = platform["marker_environment"]
    assert markers["platform_machine"] == "aarch64"
    assert markers["python_version"] == "3.13"
    tags = platform["compatible_tags"]
    assert tags[0] == "cp313-cp313-manylinux_2_34_aarch64"
    assert "cp313-abi3-manylinux_2_28_aarch64" in tags
    assert "py3-none-any" in tags
    assert not any(t.endswith("x86_64") for t in tags)
    assert not any(t.startswith("cp314") or "cp312-cp312" in t for t in tags)
