/** Text for the two aria-live regions (R10): polite for messages, assertive for offers. */
export class Announcer {
  polite = $state('');
  assertive = $state('');
  private seq = 0;

  say(text: string, urgent = false) {
    // A trailing zero-width space toggled per announcement makes a repeated text re-announce.
    const t = text + (this.seq++ % 2 ? '\u200b' : '');
    if (urgent) this.assertive = t;
    else this.polite = t;
  }
}
