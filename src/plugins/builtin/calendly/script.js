// Calendly invitee webhooks → tessera signups.
// invitee.created: the invitee (payload.email, first_name/last_name or name) becomes a
// pending signup; the invitee URI is the source reference; the scheduled event's name
// (payload.scheduled_event.name) is the event name.
// Anything else (invitee.canceled, ...) is only stored.
function onInbound(event, config) {
  var body = event.payload || {};
  if (body.event !== "invitee.created" || !body.payload) {
    return null;
  }
  var invitee = body.payload;
  var scheduled = invitee.scheduled_event || {};
  var wanted = (config.event_types || "")
    .split(",")
    .map(function (s) { return s.trim().toLowerCase(); })
    .filter(function (s) { return s.length > 0; });
  if (wanted.length > 0 && wanted.indexOf(String(scheduled.name || "").toLowerCase()) < 0) {
    return null;
  }
  return {
    contact: {
      email: invitee.email,
      first_name: invitee.first_name || null,
      last_name: invitee.last_name || null,
      name: invitee.name || null,
      reference: invitee.uri || null,
      event_name: scheduled.name || null,
    },
  };
}
