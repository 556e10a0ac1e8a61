"""Unit tests of the creditd package: python3 -m unittest discover -s tests -t . (in clients/python)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
