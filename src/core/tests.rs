//! The machine's behaviour, scenario by scenario, over simulated time
//! (`sim`). The model-based tests (`model`) check its invariants over
//! random sequences.

use super::sim::*;
use super::*;

const HOUR: f64 = 3_600_000.0;

fn ready(ttl: f64) -> Sim {
    let mut s = Sim::new(config());
    let t = s.request(Request::Initialize);
    assert_eq!(s.m.state(), State::Loading);
    assert!(s.status);
    s.serve("t1", ttl);
    assert_eq!(s.m.state(), State::Ready);
    assert_eq!(s.settled, [(t, Ok(()))]);
    assert!(!s.status && s.tags.len() == 1);
    s
}

#[test]
fn a_first_load_mounts_the_widget_with_its_token() {
    let s = ready(HOUR);
    assert_eq!(s.page_token(), Some("t1"));
    assert_eq!(s.requests.len(), 1);
    assert!(s.watching);
}

#[test]
fn an_hour_long_token_is_refreshed_twelve_minutes_before_it_expires() {
    let mut s = ready(HOUR);
    // The `Date` header's half second (it is truncated to the second).
    assert_eq!(s.left(), HOUR - 500.0);
    s.advance(0.8 * s.left() - 1.0);
    assert_eq!(s.requests.len(), 1);
    s.advance(1.0);
    assert_eq!(s.requests.len(), 2);
    assert_eq!(s.m.state(), State::Refreshing);
    s.serve("t2", HOUR);
    assert_eq!(s.page_token(), Some("t2"));
    assert_eq!(s.m.state(), State::Ready);
}

#[test]
fn a_wall_clock_set_back_or_forward_moves_no_deadline() {
    for jump in [-HOUR, -3.0 * 24.0 * HOUR, 2.0 * 24.0 * HOUR] {
        let mut s = ready(HOUR);
        let due = 0.8 * s.left();
        s.env.wall += jump;
        s.event(Event::PageBack { online: false });
        s.advance(due - 1.0);
        assert_eq!(s.requests.len(), 1, "jump {jump}");
        s.advance(1.0);
        assert_eq!(s.requests.len(), 2, "jump {jump}");
    }
}

#[test]
fn a_static_tag_is_taken_off_before_the_first_mount() {
    let mut s = Sim::new(config());
    s.static_tags.push(Tag {
        token: "from-html".into(),
        loaded: true,
    });
    s.request(Request::Initialize);
    s.serve("fresh", HOUR);
    assert_eq!(s.tags.len(), 1);
    assert_eq!(s.page_token(), Some("fresh"));
}

#[test]
fn quick_attempts_then_the_contact_box_then_background_retries() {
    let mut s = Sim::new(config());
    let t = s.request(Request::Initialize);
    for _ in 0..4 {
        s.answer(http(503));
        s.advance(10_000.0);
    }
    assert_eq!(s.requests.len(), 5, "4 quick attempts, then one retry");
    assert_eq!(s.m.state(), State::Fallback);
    assert!(s.boxed && !s.status);
    assert_eq!(s.settled, [(t, Err(ErrorCode::TokenHttp))]);
    s.serve("t1", HOUR);
    assert_eq!(s.m.state(), State::Ready);
    assert!(!s.boxed);
}

#[test]
fn unauthorized_is_never_retried_by_itself() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    s.answer(http(401));
    assert_eq!(s.m.state(), State::Fallback);
    s.advance(HOUR);
    s.event(Event::PageBack { online: true });
    s.event(Event::PageBack { online: false });
    assert_eq!(s.requests.len(), 1);
    // "Try again" is the visitor's own call.
    s.request(Request::TryAgain);
    assert!(s.busy);
    assert_eq!(s.requests.len(), 2);
}

#[test]
fn unauthorized_on_a_background_refresh_is_not_retried_and_the_widget_goes_at_expiry() {
    let mut s = ready(60_000.0);
    s.advance(0.8 * s.left());
    assert_eq!(s.requests.len(), 2);
    s.answer(http(401));
    assert_eq!(s.m.state(), State::Ready);
    assert_eq!(s.last_error(), Some(ErrorCode::TokenUnauthorized));
    s.advance(s.left() - 1.0);
    assert_eq!(s.requests.len(), 2);
    assert_eq!(s.tags.len(), 1);
    s.advance(1.0);
    assert_eq!(s.tags.len(), 0, "the expired widget leaves the page");
    assert_eq!(s.m.state(), State::Fallback);
    assert!(s.boxed && !s.status);
    s.advance(HOUR);
    assert_eq!(s.requests.len(), 2);
}

#[test]
fn a_widget_whose_token_expires_during_an_outage_gives_way_to_the_box() {
    let mut s = ready(60_000.0);
    s.advance(0.8 * s.left());
    s.answer(http(503));
    assert_eq!(s.m.state(), State::Ready);
    let mut guard = 0;
    while s.tags.len() == 1 {
        assert!(!s.boxed && !s.status, "nothing beside a working widget");
        s.advance(100.0);
        if s.fetch.is_some() {
            s.answer(http(503));
        }
        guard += 1;
        assert!(guard < 200);
    }
    assert_eq!(s.env.mono, 1_000.0 + 59_500.0, "at the token's expiry");
    assert_eq!(s.m.state(), State::Fallback);
    assert!(s.boxed && !s.status);
}

#[test]
fn a_remount_during_an_outage_continues_the_backoff() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    for _ in 0..4 {
        s.answer(http(503));
        s.advance(s.m.next_deadline().unwrap() - s.env.mono);
    }
    s.event(Event::Destroy);
    assert!(s.tags.is_empty() && !s.boxed);
    let memory = s.m.memory().clone();
    let requests = s.requests.len();
    let mut s2 = Sim::with_memory(config(), memory, s.env.mono);
    s2.request(Request::Initialize);
    assert_eq!(s2.m.state(), State::Fallback, "the box at once");
    assert!(s2.boxed);
    assert!(s2.requests.is_empty(), "no request before the retry is due");
    assert_eq!(requests + s2.requests.len(), 4 + s.requests.len() - 4);
}

#[test]
fn a_manager_destroyed_with_its_request_out_counts_it() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    s.event(Event::Destroy);
    let mut s2 = Sim::with_memory(config(), s.m.memory().clone(), s.env.mono);
    s2.request(Request::Initialize);
    assert!(s2.requests.is_empty(), "waits the first backoff step");
    assert_eq!(s2.m.state(), State::Loading);
    s2.advance(500.0);
    assert_eq!(s2.requests.len(), 1);
}

#[test]
fn the_date_header_corrects_a_server_fifty_seconds_ahead() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    let server = s.env.wall + 50_000.0;
    s.answer(Answer::Token {
        value: "t".into(),
        expires_at: server + 60_000.0,
        iat: Some(server),
        server_now: Some(server),
    });
    s.mounted(Ok(()));
    let left = s.m.expires_at().unwrap() - s.env.wall;
    assert!((left - 60_000.0).abs() <= 1_000.0, "{left}");
}

#[test]
fn token_expired_signals_wait_for_the_backoff() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    for _ in 0..4 {
        s.answer(http(503));
        s.advance(s.m.next_deadline().unwrap() - s.env.mono);
    }
    let n = s.requests.len();
    for _ in 0..20 {
        s.event(Event::WidgetExpired);
        s.advance(300.0);
    }
    assert!(s.requests.len() <= n + 1);
}

#[test]
fn a_burst_of_token_expired_signals_makes_one_refresh() {
    let mut s = ready(HOUR);
    for _ in 0..10 {
        s.event(Event::WidgetExpired);
        s.advance(10.0);
    }
    s.advance(300.0);
    assert_eq!(s.requests.len(), 2);
}

#[test]
fn a_refresh_whose_widget_throws_puts_the_working_one_back() {
    let mut s = ready(HOUR);
    s.request(Request::Refresh);
    s.answer(s.token("t2", HOUR));
    s.preloaded(Ok(()));
    assert!(s.taken.is_some());
    s.mounted(Err(LoaderError::new(ErrorCode::WidgetLoad, "threw")));
    assert_eq!(s.page_token(), Some("t1"));
    assert_eq!(s.m.state(), State::Ready);
    assert_eq!(s.last_error(), Some(ErrorCode::WidgetLoad));
}

#[test]
fn destroy_takes_everything_off_and_rejects_the_waiting_calls() {
    let mut s = Sim::new(config());
    let t = s.request(Request::Initialize);
    s.answer(s.token("t1", HOUR));
    assert!(s.mount.is_some());
    s.event(Event::Destroy);
    assert!(s.tags.is_empty() && !s.status && !s.boxed && !s.watching);
    assert_eq!(s.settled, [(t, Err(ErrorCode::Destroyed))]);
    assert_eq!(s.m.next_deadline(), None);
}

#[test]
fn a_trigger_is_waited_for_and_refresh_token_is_the_trigger() {
    let mut s = Sim::new(Config {
        trigger: true,
        ..config()
    });
    s.request(Request::Initialize);
    assert!(s.waiting_trigger && s.requests.is_empty());
    assert_eq!(s.m.state(), State::Idle);
    s.request(Request::Refresh);
    assert!(!s.waiting_trigger);
    assert_eq!(s.requests.len(), 1);
}

#[test]
fn a_missing_container_fails_the_first_round_without_a_request() {
    let mut s = Sim::new(config());
    s.env.container = false;
    let t = s.request(Request::Initialize);
    assert!(s.requests.is_empty());
    assert_eq!(s.settled, [(t, Err(ErrorCode::InvalidOptions))]);
    assert_eq!(s.m.state(), State::Fallback);
}

#[test]
fn a_hidden_page_makes_no_retry_until_it_is_shown() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    s.env.hidden = true;
    s.answer(http(503));
    assert_eq!(s.m.state(), State::Fallback, "no quick attempts hidden");
    s.advance(HOUR);
    assert_eq!(s.requests.len(), 1);
    s.env.hidden = false;
    s.event(Event::PageBack { online: false });
    assert_eq!(s.requests.len(), 2);
}

#[test]
fn the_same_token_again_is_not_remounted() {
    let mut s = ready(HOUR);
    s.request(Request::Refresh);
    s.answer(s.token("t1", HOUR - 1_000.0));
    assert!(s.mount.is_none() && s.preload.is_none());
    assert_eq!(s.m.state(), State::Ready);
}

#[test]
fn a_widget_that_never_loads_is_given_up_at_its_deadline() {
    // A first load: the box, with WIDGET_LOAD.
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    s.answer(s.token("t1", HOUR));
    assert!(s.mount.is_some());
    s.advance(20_000.0);
    assert!(
        s.mount.is_none() && s.tags.is_empty(),
        "the tag is cancelled"
    );
    assert_eq!(s.m.state(), State::Fallback);
    assert_eq!(s.last_error(), Some(ErrorCode::WidgetLoad));
    // A refresh: the working widget is put back.
    let mut s = ready(HOUR);
    s.request(Request::Refresh);
    s.answer(s.token("t2", HOUR));
    s.preloaded(Ok(()));
    s.mount.take();
    s.advance(20_000.0);
    assert_eq!(s.page_token(), Some("t1"));
    assert_eq!(s.m.state(), State::Ready);
    assert_eq!(s.last_error(), Some(ErrorCode::WidgetLoad));
}

#[test]
fn a_refresh_whose_widget_fails_to_load_is_retried_while_the_token_is_valid() {
    let mut s = ready(HOUR);
    s.advance(0.8 * s.left());
    assert_eq!(s.requests.len(), 2);
    s.answer(s.token("t2", HOUR));
    s.preloaded(Err(LoaderError::new(ErrorCode::WidgetLoad, "404")));
    assert_eq!(s.m.state(), State::Ready);
    assert_eq!(s.page_token(), Some("t1"));
    // "... a retry follows": within the background cap, before expiry.
    let failed = s.env.mono;
    s.advance(s.m.next_deadline().unwrap() - s.env.mono);
    assert_eq!(s.requests.len(), 3, "a retry follows");
    assert!(s.env.mono - failed <= 300_000.0);
    s.serve("t3", HOUR);
    assert_eq!(s.page_token(), Some("t3"));
}

#[test]
fn a_token_that_expires_while_its_widget_loads_never_stays_on_the_page() {
    // The timer finds it: the widget goes, the round fails as a load.
    let mut s = Sim::new(config());
    let t = s.request(Request::Initialize);
    s.answer(s.token("t1", 5_000.0));
    assert!(s.mount.is_some());
    s.advance(5_000.0);
    assert!(s.tags.is_empty(), "no widget with an expired token");
    assert_eq!(s.m.state(), State::Fallback);
    assert_eq!(s.settled, [(t, Err(ErrorCode::WidgetLoad))]);
    // The load ends after the expiry, before any timer: not `ready`.
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    s.answer(s.token("t1", 5_000.0));
    s.env.mono += 6_000.0;
    s.env.wall += 6_000.0;
    s.mounted(Ok(()));
    assert!(s.tags.is_empty(), "no widget with an expired token");
    assert!(s.events.iter().all(|e| e.0 != State::Ready));
    // A refresh: the working widget is put back.
    let mut s = ready(HOUR);
    s.request(Request::Refresh);
    s.answer(s.token("t2", 3_000.0));
    s.preloaded(Ok(()));
    s.advance(3_000.0);
    assert_eq!(s.page_token(), Some("t1"));
    assert_eq!(s.m.state(), State::Ready);
}

#[test]
fn a_token_that_expires_while_its_refresh_is_out_keeps_the_refresh_without_a_container() {
    let expired_mid_refresh = || {
        // Refreshed 6 s before expiry: the request is still out then.
        let mut s = ready(30_000.0);
        s.advance(0.8 * s.left());
        assert_eq!(s.requests.len(), 2);
        s.env.container = false;
        s.advance(s.left());
        assert!(s.tags.is_empty(), "the expired widget goes");
        s
    };
    let mut s = expired_mid_refresh();
    assert_eq!(s.m.state(), State::Loading);
    s.serve("t2", 30_000.0);
    assert_eq!(s.m.state(), State::Ready);
    assert_eq!(s.page_token(), Some("t2"));
    // Nothing of the round is left running after destroy either.
    let mut s = expired_mid_refresh();
    s.event(Event::Destroy);
    assert!(s.fetch.is_none(), "the request is aborted");
}

#[test]
fn a_token_expired_signal_collected_before_a_401_does_not_retry_it() {
    let mut s = ready(HOUR);
    s.event(Event::WidgetExpired);
    // Within the signal's 200 ms debounce, the page asks for a token and
    // the endpoint refuses.
    s.request(Request::Refresh);
    s.answer(http(401));
    assert_eq!(s.m.state(), State::Ready);
    s.advance(30.0 * 60_000.0);
    assert_eq!(s.requests.len(), 2, "401 is never retried by the machine");
}

/// Requests in the first minute and in ten of an outage where every
/// request fails at once with a network error, the jitter draws its
/// least, and `online` fires every 100 ms (a flapping connection).
fn outage_with_online_events(mut s: Sim) -> (usize, usize) {
    s.env.random = 0.0;
    s.request(Request::Initialize);
    let start = s.env.mono;
    while s.env.mono < start + 600_000.0 {
        if s.fetch.is_some() {
            s.answer(failed(ErrorCode::TokenNetwork));
        }
        s.event(Event::PageBack { online: true });
        s.advance(100.0);
    }
    let within = |ms: f64| s.requests.iter().filter(|&&t| t < start + ms).count();
    (within(60_000.0), within(600_000.0))
}

#[test]
fn online_events_after_network_failures_keep_the_budget() {
    assert_eq!(outage_with_online_events(Sim::new(config())), (8, 13));
}

#[test]
fn online_after_a_remount_does_not_skip_the_backoff_of_an_aborted_retry() {
    let mut s = Sim::new(config());
    s.env.random = 0.0;
    s.request(Request::Initialize);
    for _ in 0..5 {
        s.answer(failed(ErrorCode::TokenNetwork));
        s.advance(s.m.next_deadline().unwrap() - s.env.mono);
    }
    // The background retry is out; the component unmounts and mounts
    // again, and the network comes back.
    assert!(s.fetch.is_some());
    s.event(Event::Destroy);
    let mut s2 = Sim::with_memory(config(), s.m.memory().clone(), s.env.mono);
    s2.request(Request::Initialize);
    s2.advance(1.0);
    s2.event(Event::PageBack { online: true });
    assert!(s2.requests.is_empty(), "the aborted retry's backoff holds");
}

#[test]
fn a_retry_after_survives_a_manager_that_fails_for_a_missing_container() {
    let mut s = Sim::new(config());
    s.request(Request::Initialize);
    s.answer(Answer::Failed(LoaderError {
        status: Some(429),
        retry_after_ms: Some(8_000.0),
        ..LoaderError::new(ErrorCode::TokenHttp, "busy")
    }));
    s.event(Event::Destroy);
    // A manager mounted where its container is missing: it fails without
    // asking the endpoint anything.
    let mut s2 = Sim::with_memory(config(), s.m.memory().clone(), s.env.mono);
    s2.env.container = false;
    s2.request(Request::Initialize);
    assert!(s2.requests.is_empty());
    s2.event(Event::Destroy);
    let mut s3 = Sim::with_memory(config(), s2.m.memory().clone(), s2.env.mono);
    s3.request(Request::Initialize);
    s3.advance(8_000.0 - 1.0);
    assert!(s3.requests.is_empty(), "the endpoint's Retry-After holds");
    s3.advance(1.0);
    assert_eq!(s3.requests.len(), 1);
}

#[test]
fn token_expired_signals_that_keep_coming_back_off() {
    // The host app rejects "Session token expired" every 2 s for 10 min,
    // against a healthy backend: the cool-down doubles up to 10 min.
    let mut s = ready(24.0 * HOUR);
    let mut n = 1;
    for i in 0..300 {
        s.event(Event::WidgetExpired);
        s.advance(2_000.0);
        if s.fetch.is_some() {
            n += 1;
            s.serve(&format!("t{i}"), 24.0 * HOUR);
        }
    }
    assert!(
        n - 1 <= 8,
        "{} signal-driven refreshes in 10 minutes",
        n - 1
    );
    // A real expiry signal an hour later is heard again at once.
    s.advance(HOUR);
    s.event(Event::WidgetExpired);
    s.advance(300.0);
    assert!(s.fetch.is_some());
}
