"""The Django app of the rollback tests: one field of every common type."""
from django.db import models


class Author(models.Model):
    id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=100)
    active = models.BooleanField()
    born = models.DateField(null=True)
    joined = models.DateTimeField()
    wakes = models.TimeField(null=True)

    class Meta:
        app_label = "djapp"


class Post(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    balance = models.DecimalField(max_digits=20, decimal_places=4, null=True)
    reading = models.DurationField(null=True)
    payload = models.JSONField(null=True)
    blob = models.BinaryField(null=True)
    published = models.DateTimeField(null=True)
    at = models.TimeField()

    class Meta:
        app_label = "djapp"


class Event(models.Model):
    """Empty in the old SQLite file: its encodings come from the app's style."""

    when = models.DateTimeField()
    day = models.DateField()
    length = models.DurationField()
    starts = models.TimeField()
    ref = models.UUIDField()
    amount = models.DecimalField(max_digits=18, decimal_places=6)

    class Meta:
        app_label = "djapp"
