"""Notifications when a request or run ends, fails or is cancelled (in the portal, and by email when mail is configured), and a
password reset that works with mail and says so without it."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files import File
from django.test import Client
from django.urls import reverse

from portal.catalog.ingest import add_item
from portal.jobs.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo_item(photo_file, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), open(photo_file, "rb") as f:
        return add_item(File(f, name=photo_file.name), user=staff_user, title="Harbour")


def _colorize(client, item, model, callbacks):
    with callbacks(execute=True):
        client.post(reverse("jobs:submit", args=[item.pk]), {"models": [model.pk]})


def test_a_finished_request_notifies_its_requester_in_the_portal_and_by_mail(
    staff_client, staff_user, photo_item, model_row, settings, django_capture_on_commit_callbacks
):
    settings.MAIL_CONFIGURED = True
    _colorize(staff_client, photo_item, model_row, django_capture_on_commit_callbacks)
    note = Notification.objects.get(user=staff_user)
    assert note.message == "Colorization of “Harbour” with tiny is done." and not note.failed
    assert note.url == photo_item.requests.get().get_absolute_url()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [staff_user.email]
    assert note.message in mail.outbox[0].subject and note.url in mail.outbox[0].body

    page = staff_client.get(reverse("catalog:dashboard")).content.decode()
    assert re.search(r'data-notifications>Notifications <span class="pill pill-running">1</span>', page)
    listing = staff_client.get(reverse("jobs:notifications")).content.decode()
    assert note.message in listing and "Each is also sent to your email address" in listing
    page = staff_client.get(reverse("catalog:dashboard")).content.decode()
    assert "data-notifications>Notifications</a>" in page  # read now


def test_a_failed_request_says_why_and_no_mail_is_sent_without_a_mail_server(
    staff_client, staff_user, photo_item, model_row, settings, django_capture_on_commit_callbacks
):
    settings.MAIL_CONFIGURED = False
    with photo_item.original.open("wb") as f:  # the stored original is damaged after upload
        f.write(b"\x89PNG broken")
    _colorize(staff_client, photo_item, model_row, django_capture_on_commit_callbacks)
    note = Notification.objects.get(user=staff_user)
    assert note.failed and note.message.startswith("Colorization of “Harbour” with tiny failed: ")
    assert mail.outbox == []


def test_a_cancelled_request_notifies_its_requester_with_who_cancelled_it(
    staff_client,
    staff_user,
    admin_account,
    photo_item,
    model_row,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.MAIL_CONFIGURED = True

    def submit():
        with django_capture_on_commit_callbacks(execute=False):  # no worker takes it: it waits
            staff_client.post(reverse("jobs:submit", args=[photo_item.pk]), {"models": [model_row.pk]})
        return photo_item.requests.order_by("pk").last()

    first = submit()

    admin = Client()
    admin.force_login(admin_account)
    admin.post(reverse("jobs:request_action", args=[first.pk, "cancel"]))
    note = Notification.objects.get(user=staff_user)
    assert (
        note.message == "Colorization of “Harbour” with tiny was cancelled by director." and not note.failed
    )
    assert note.url == first.get_absolute_url()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [staff_user.email]
    assert note.message in mail.outbox[0].subject
    admin.post(reverse("jobs:request_action", args=[first.pk, "cancel"]))  # already cancelled: nothing new
    assert Notification.objects.filter(user=staff_user).count() == 1

    # cancelling one's own request: in the list, no mail about one's own click
    second = submit()
    assert second != first
    staff_client.post(reverse("jobs:request_action", args=[second.pk, "cancel"]))
    own = Notification.objects.filter(user=staff_user).first()
    assert own.message == "Colorization of “Harbour” with tiny was cancelled." and len(mail.outbox) == 1
    assert own.message in staff_client.get(reverse("jobs:notifications")).content.decode()


def test_password_reset_says_so_when_no_mail_can_be_sent(client, staff_user, settings):
    settings.MAIL_CONFIGURED = False
    page = client.get(reverse("password_reset")).content.decode()
    assert "This portal cannot send email" in page and "changepassword" in page
    page = client.post(reverse("password_reset"), {"email": staff_user.email}).content.decode()
    assert "This portal cannot send email" in page and mail.outbox == []
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()


def test_password_reset_mails_a_working_link_when_mail_is_configured(client, staff_user, settings):
    settings.MAIL_CONFIGURED = True
    response = client.post(reverse("password_reset"), {"email": staff_user.email})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session and redirects
    response = client.post(
        form_url, {"new_password1": "a-new-long-pass-9", "new_password2": "a-new-long-pass-9"}
    )
    assert response.status_code == 302
    staff_user.refresh_from_db()
    assert staff_user.check_password("a-new-long-pass-9")


def test_every_job_someone_asks_for_names_itself_in_its_notice():
    """A job model with a `requested_by` field tells that person when it ends, in words of its own
    (`notice_subject`); one that kept the `Job` default would end without telling anyone."""
    from django.apps import apps

    from portal.jobs.models import Job

    asked_for = [
        m
        for m in apps.get_models()
        if issubclass(m, Job) and any(f.name == "requested_by" for f in m._meta.fields)
    ]
    assert len(asked_for) >= 3
    silent = [m.__name__ for m in asked_for if m.notice_subject is Job.notice_subject]
    assert silent == []
