"""API tests: a package so the test modules can import ``helpers`` relatively."""
