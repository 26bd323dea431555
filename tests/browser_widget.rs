//! The widget tag: one per org, adoption, re-evaluation with the new token,
//! destroy (issue points 3, 4 and 8).
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn token_of(eval: &JsValue) -> String {
    get(eval, "token").as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn every_refresh_evaluates_the_widget_again_with_the_new_token_and_leaves_one_ui() {
    let id = unique("reeval");
    let org = id.clone();
    let tag = tag_id(Some(&org));
    let m = manager(test_opts(&id, &format!(r#""org": "{org}""#)));
    let watch = watch_tag_count(&tag);
    assert_eq!(code_of(m.initialize()).await, "ok");
    for _ in 0..3 {
        assert_eq!(code_of(m.refresh_token()).await, "ok");
    }
    let tokens = tokens(&id).await;
    assert_eq!(tokens.len(), 4);
    let evals = evaluations(&tag);
    assert_eq!(evals.length(), 4, "one evaluation per token");
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(
            &token_of(&evals.get(i as u32)),
            t,
            "evaluation {i} saw token {i}"
        );
    }
    assert_eq!(only_tag_token(&tag), tokens[3]);
    assert_eq!(
        panels(&tag).length(),
        1,
        "the previous evaluations' UI is gone"
    );
    let max = get(&watch, "stop")
        .dyn_into::<js_sys::Function>()
        .unwrap()
        .call0(&JsValue::NULL)
        .unwrap();
    assert_eq!(
        max.as_f64(),
        Some(1.0),
        "never two tags with the org's id at once"
    );
    m.destroy();
    assert_eq!(panels(&tag).length(), 0, "destroy removes the widget's UI");
}

#[wasm_bindgen_test]
async fn attribute_reload_updates_the_token_in_place_without_re_evaluating() {
    let id = unique("attr");
    let org = id.clone();
    let tag = tag_id(Some(&org));
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{org}", "reload": "attribute""#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    let tokens = tokens(&id).await;
    assert_eq!(evaluations(&tag).length(), 1);
    assert_eq!(only_tag_token(&tag), tokens[1]);
    let tag2 = tag.clone();
    let t1 = tokens[1].clone();
    let seen = wait_for(
        move || {
            let p = panels(&tag2);
            p.length() == 1
                && p.get(0)
                    .unchecked_into::<web_sys::Element>()
                    .get_attribute("data-token")
                    == Some(t1.clone())
        },
        2000,
    )
    .await;
    assert!(seen, "the widget observed the new token attribute");
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_second_manager_with_the_same_options_is_the_same_manager() {
    let id = unique("same");
    let org = id.clone();
    let o = format!(r#""org": "{org}""#);
    let a = manager(test_opts(&id, &o));
    let b = manager(test_opts(&id, &o));
    let (pa, pb) = (a.initialize(), b.initialize());
    assert_eq!(code_of(pa).await, "ok");
    assert_eq!(code_of(pb).await, "ok");
    assert_eq!(requests(&id).await, 1);
    assert_eq!(b.state(), "ready");
    assert_eq!(tags_with_id(&tag_id(Some(&org))).length(), 1);
    let (code, message) =
        constructor_error(test_opts(&id, &format!(r#"{o}, "checkIntervalMs": 5000"#)));
    assert_eq!(code, "CONFLICTING_INSTANCE");
    assert!(
        message.contains("checkIntervalMs"),
        "names what differs: {message}"
    );
    b.destroy();
    a.destroy();
}

#[wasm_bindgen_test]
async fn destroy_releases_one_handle_and_the_last_one_tears_down() {
    let id = unique("handles");
    let tag = tag_id(Some(&id));
    let o = format!(r#""org": "{id}""#);
    let a = manager(test_opts(&id, &o));
    let b = manager(test_opts(&id, &o));
    assert_eq!(code_of(a.initialize()).await, "ok");
    assert_eq!(code_of(b.initialize()).await, "ok");
    // One component unmounts: the other keeps its chat.
    a.destroy();
    a.destroy(); // idempotent: releases a's handle once
    assert_eq!(a.state(), "destroyed");
    assert_eq!(code_of(a.refresh_token()).await, "DESTROYED");
    assert_eq!(b.state(), "ready");
    assert_eq!(tags_with_id(&tag).length(), 1);
    assert_eq!(panels(&tag).length(), 1);
    assert_eq!(code_of(b.refresh_token()).await, "ok", "b still refreshes");
    // A third handle joins the live manager; releasing b leaves it to c.
    let c = manager(test_opts(&id, &o));
    b.destroy();
    assert_eq!(c.state(), "ready");
    assert_eq!(tags_with_id(&tag).length(), 1);
    c.destroy();
    assert_eq!(tags_with_id(&tag).length(), 0, "the last handle tears down");
    assert_eq!(panels(&tag).length(), 0);
}

#[wasm_bindgen_test]
async fn two_orgs_get_two_widgets_each_with_its_own_token() {
    let (ia, ib) = (unique("orgA"), unique("orgB"));
    let a = manager(test_opts(&ia, &format!(r#""org": "{ia}""#)));
    let b = manager(test_opts(&ia, &format!(r#""org": "{ib}""#)));
    let (pa, pb) = (a.initialize(), b.initialize());
    assert_eq!(code_of(pa).await, "ok");
    assert_eq!(code_of(pb).await, "ok");
    let ta = only_tag_token(&tag_id(Some(&ia)));
    let tb = only_tag_token(&tag_id(Some(&ib)));
    assert_ne!(ta, tb);
    assert_eq!(token_of(&evaluations(&tag_id(Some(&ia))).get(0)), ta);
    assert_eq!(token_of(&evaluations(&tag_id(Some(&ib))).get(0)), tb);
    a.destroy();
    assert_eq!(
        tags_with_id(&tag_id(Some(&ib))).length(),
        1,
        "destroying one org leaves the other"
    );
    assert_eq!(panels(&tag_id(Some(&ib))).length(), 1);
    b.destroy();
}

#[wasm_bindgen_test]
async fn a_tag_already_in_the_page_is_adopted_not_duplicated() {
    let id = unique("static");
    let org = id.clone();
    let tag = tag_id(Some(&org));
    add_static_tag(&tag, &widget_src(&id), "stale-token");
    add_static_tag(&tag, &widget_src(&id), "stale-copy");
    let m = manager(test_opts(&id, &format!(r#""org": "{org}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let tokens = tokens(&id).await;
    assert_eq!(only_tag_token(&tag), tokens[0]);
    assert_eq!(evaluations(&tag).length(), 1);
    assert_eq!(token_of(&evaluations(&tag).get(0)), tokens[0]);
    m.destroy();
}

#[wasm_bindgen_test]
async fn destroy_leaves_nothing_and_mount_unmount_mount_leaves_one_tag() {
    let id = unique("mount");
    let org = id.clone();
    let tag = tag_id(Some(&org));
    let o = format!(r##""org": "{org}", "container": "#{id}-box""##);
    make_container(&format!("{id}-box"));
    let m1 = manager(test_opts(&id, &o));
    let first = m1.initialize();
    m1.destroy();
    m1.destroy(); // idempotent
    assert_eq!(code_of(first).await, "DESTROYED");
    assert_eq!(m1.state(), "destroyed");
    assert_eq!(code_of(m1.initialize()).await, "DESTROYED");
    assert_eq!(code_of(m1.refresh_token()).await, "DESTROYED");
    let m2 = manager(test_opts(&id, &o));
    assert_eq!(code_of(m2.initialize()).await, "ok");
    assert_eq!(tags_with_id(&tag).length(), 1);
    assert_eq!(panels(&tag).length(), 1);
    m2.destroy();
    wait(300).await;
    assert_eq!(tags_with_id(&tag).length(), 0);
    assert_eq!(panels(&tag).length(), 0);
    assert_eq!(
        count(&format!("#{id}-box > *")),
        0,
        "no loading or fallback left"
    );
    let m3 = manager(test_opts(&id, &o));
    assert_eq!(code_of(m3.initialize()).await, "ok");
    assert_eq!(tags_with_id(&tag).length(), 1);
    m3.destroy();
}

#[wasm_bindgen_test]
async fn destroy_aborts_the_request_in_flight() {
    let id = unique("abort");
    let org = id.clone();
    script(&id, r#"[{"delay": 1500}]"#).await;
    let m = manager(test_opts(&id, &format!(r#""org": "{org}""#)));
    let p = m.initialize();
    // The request is out (the server counts it while it waits to answer).
    assert!(wait_for_requests(&id, 1, 5000).await);
    m.destroy();
    assert_eq!(code_of(p).await, "DESTROYED");
    wait(1700).await;
    assert_eq!(
        tags_with_id(&tag_id(Some(&org))).length(),
        0,
        "no tag appears after destroy"
    );
}

#[wasm_bindgen_test]
async fn a_widget_that_fails_to_load_is_widget_load_and_the_fallback() {
    let id = unique("badwidget");
    let m = manager(opts(&format!(
        r#"{{"tokenUrl": "{}", "org": "{id}", "widgetSrc": "{}/missing-widget.js"}}"#,
        token_url(&id),
        server()
    )));
    assert_eq!(code_of(m.initialize()).await, "WIDGET_LOAD");
    assert_eq!(m.state(), "fallback");
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
    assert_eq!(count(".chathub-loader-fallback"), 1);
    m.destroy();
    assert_eq!(count(".chathub-loader-fallback"), 0);
}

#[wasm_bindgen_test]
async fn a_widget_that_throws_while_it_evaluates_is_widget_load_not_ready() {
    let id = unique("throws");
    let tag = tag_id(Some(&id));
    set_widget_status(&id, "throw").await;
    let m = manager(scenario_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "WIDGET_LOAD");
    assert_eq!(m.state(), "fallback");
    assert_eq!(evaluations(&tag).length(), 1, "it did evaluate");
    assert_eq!(tags_with_id(&tag).length(), 0);
    assert_eq!(
        panels(&tag).length(),
        0,
        "what the broken widget added is gone"
    );
    assert_eq!(count(".chathub-loader-fallback"), 1);
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_refresh_whose_widget_fails_or_throws_keeps_the_working_widget() {
    for broken in ["404", "throw"] {
        let id = unique("keepwidget");
        let tag = tag_id(Some(&id));
        let box_id = format!("{id}-box");
        make_container(&box_id);
        let m = manager(scenario_opts(
            &id,
            &format!(r##""org": "{id}", "container": "#{box_id}""##),
        ));
        assert_eq!(code_of(m.initialize()).await, "ok");
        let first = only_tag_token(&tag);
        set_widget_status(&id, broken).await;
        assert_eq!(code_of(m.refresh_token()).await, "WIDGET_LOAD", "{broken}");
        assert_eq!(m.state(), "ready", "{broken}: the old token still works");
        assert_eq!(
            only_tag_token(&tag),
            first,
            "{broken}: the widget runs with the token it had"
        );
        assert_eq!(panels(&tag).length(), 1, "{broken}");
        assert_eq!(count(&format!("#{box_id} .chathub-loader-fallback")), 0);
        set_widget_status(&id, "200").await;
        assert_eq!(code_of(m.refresh_token()).await, "ok", "{broken}");
        assert_ne!(only_tag_token(&tag), first);
        assert_eq!(panels(&tag).length(), 1, "{broken}");
        m.destroy();
    }
}

#[wasm_bindgen_test]
async fn destroy_during_the_widget_download_leaves_no_widget_ui_behind() {
    let id = unique("latewidget");
    let tag = tag_id(Some(&id));
    set_widget_delay(&id, 600).await;
    let m = manager(scenario_opts(&id, &format!(r#""org": "{id}""#)));
    let p = m.initialize();
    let t = tag.clone();
    assert!(wait_for(move || tags_with_id(&t).length() == 1, 5000).await);
    m.destroy();
    assert_eq!(code_of(p).await, "DESTROYED");
    // The page renders something of its own while the download goes on.
    let own = make_container(&format!("{id}-page-own"));
    // The removed module script still evaluates once its download ends.
    let part = format!("/s/{id}/");
    let p2 = part.clone();
    assert!(
        wait_for(move || evaluations_from(&p2).length() == 1, 5000).await,
        "the late evaluation happened"
    );
    wait(50).await;
    assert_eq!(
        panels_from(&part).length(),
        0,
        "and what it added was removed"
    );
    assert!(own.is_connected(), "the page's own element stays");
    assert_eq!(tags_with_id(&tag).length(), 0);
    own.remove();
}

#[wasm_bindgen_test]
async fn a_late_download_that_fails_after_destroy_removes_nothing_of_the_page() {
    let id = unique("latefail");
    set_widget_delay(&id, 600).await;
    set_widget_status(&id, "404").await;
    let m = manager(scenario_opts(&id, &format!(r#""org": "{id}""#)));
    let p = m.initialize();
    let tag = tag_id(Some(&id));
    assert!(wait_for(move || tags_with_id(&tag).length() == 1, 5000).await);
    m.destroy();
    assert_eq!(code_of(p).await, "DESTROYED");
    let own = make_container(&format!("{id}-page-own"));
    // The download ends in a 404 (the server answers after its delay).
    wait(1500).await;
    assert!(own.is_connected(), "nothing evaluated: nothing is removed");
    own.remove();
}

#[wasm_bindgen_test]
async fn a_widget_that_loads_after_the_timeout_does_not_appear_next_to_the_contact_box() {
    // The load timeout is twice max(requestTimeoutMs, 10 s): 20 s here.
    let id = unique("timeoutwidget");
    let tag = tag_id(Some(&id));
    set_widget_delay(&id, 21_000).await;
    let m = manager(scenario_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "WIDGET_LOAD");
    assert_eq!(count(".chathub-loader-fallback"), 1);
    let part = format!("/s/{id}/");
    let p2 = part.clone();
    let late = wait_for(move || evaluations_from(&p2).length() == 1, 10_000).await;
    wait(50).await;
    let left = panels_from(&part).length();
    let boxes = count(".chathub-loader-fallback");
    m.destroy();
    assert!(late, "the late evaluation happened");
    assert_eq!(left, 0, "the late widget was removed");
    assert_eq!(boxes, 1);
    assert_eq!(tags_with_id(&tag).length(), 0);
}

#[wasm_bindgen_test]
async fn destroy_during_a_refresh_preload_leaves_no_modulepreload_link() {
    let id = unique("preloadleak");
    let m = manager(scenario_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    set_widget_delay(&id, 600).await;
    let p = m.refresh_token();
    let links = format!(r#"link[rel="modulepreload"][href*="{id}"]"#);
    let l = links.clone();
    assert!(
        wait_for(move || count(&l) == 1, 5000).await,
        "the preload started"
    );
    m.destroy();
    assert_eq!(code_of(p).await, "DESTROYED");
    wait(800).await;
    assert_eq!(count(&links), 0);
}

#[wasm_bindgen_test]
async fn destroy_from_focusout_during_a_refresh_leaves_no_widget_tag() {
    // The refresh takes the old widget off the page while its UI has
    // focus; the page's focusout listener destroys the manager right then.
    let id = unique("focusrefresh");
    let tag = tag_id(Some(&id));
    let m = JsValue::from(manager(test_opts(&id, &format!(r#""org": "{id}""#))));
    assert_eq!(code_of(refresh_via(&m)).await, "ok");
    let panel: web_sys::Element = panels(&tag).get(0).unchecked_into();
    assert!(focus_on(&panel), "the widget's UI has focus");
    destroy_on_focus_out(&panel, m.clone());
    assert_eq!(code_of(refresh_via(&m)).await, "DESTROYED");
    wait(500).await;
    assert_eq!(
        tags_with_id(&tag).length(),
        0,
        "no tag (with a token) after destroy"
    );
    assert_eq!(evaluations(&tag).length(), 1, "no evaluation after destroy");
    assert_eq!(panels(&tag).length(), 0);
}

#[wasm_bindgen_test]
async fn a_restored_widget_keeps_what_widget_selector_matches_inside_it() {
    let id = unique("nested");
    let tag = tag_id(Some(&id));
    let m = manager(scenario_opts(
        &id,
        &format!(r#""org": "{id}", "widgetSelector": ".nested-{id}""#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let panel: web_sys::Element = panels(&tag).get(0).unchecked_into();
    let inner = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("span")
        .unwrap();
    inner.set_class_name(&format!("nested-{id}"));
    panel.append_child(&inner).unwrap();
    set_widget_status(&id, "throw").await;
    assert_eq!(code_of(m.refresh_token()).await, "WIDGET_LOAD");
    assert_eq!(m.state(), "ready");
    assert!(panel.is_connected(), "the working widget is back");
    assert!(
        inner.parent_element().is_some_and(|p| p == panel) && inner.is_connected(),
        "with everything inside it"
    );
    m.destroy();
}
