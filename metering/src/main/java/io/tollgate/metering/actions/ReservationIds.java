package io.tollgate.metering.actions;

import io.tollgate.metering.admission.Reservation;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * The id a client gets for a reservation: its member in the reservations set, encoded. Any
 * instance can commit or cancel it without a lookup; a forged or altered id names no held member,
 * so the scripts find nothing to settle and charge nothing.
 */
final class ReservationIds {

  private static final String PREFIX = "rsv_";

  private ReservationIds() {
  }

  static String of(Reservation r) {
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(r.member().getBytes(StandardCharsets.UTF_8));
  }

  static Optional<Reservation> parse(String id) {
    if (id == null || !id.startsWith(PREFIX) || id.length() > 400) {
      return Optional.empty();
    }
    try {
      String member = new String(Base64.getUrlDecoder().decode(id.substring(PREFIX.length())), StandardCharsets.UTF_8);
      return Reservation.ofActionMember(member);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
