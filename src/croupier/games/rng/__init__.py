"""Random number generation for game rounds: versioned RNGs, provably fair seeds and test-lab export tools.

A round stores the name of the RNG version it started under and the seed material it used; replaying it with
`RNG_VERSIONS[name]` reproduces the outcome. Versions are frozen once released: a change is a new version.
"""
