"""Screens the app pushes over its main one."""
