import aether


def test_public_api_names_resolve():
    for name in aether.__all__:
        assert getattr(aether, name) is not None, name
