"""The games service: game rounds, their outcomes (RNG versions, provably fair seeds) and the games' math."""
