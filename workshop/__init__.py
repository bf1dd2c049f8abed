"""The workshop kit: labs with starters, reference solutions and checkers, run by ``rosetta workshop``."""
