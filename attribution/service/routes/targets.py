"""Filled in by its area."""

from fastapi import APIRouter

router = APIRouter()
