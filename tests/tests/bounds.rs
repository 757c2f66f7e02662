//! Options on every call kind, and bounds under hostile servers, for both
//! clients (the functions are in `seclai_tests::bounds`).

macro_rules! bounds_for {
    ($client:ty) => {
        seclai_tests::for_client!($client;
            bounds::every_kind_takes_the_same_options,
            bounds::extra_body_fields_are_merged,
            bounds::raw_json_and_metadata_of_typed_calls,
            bounds::reserved_and_broken_headers_are_refused_before_sending,
            bounds::a_deadline_ends_every_kind_against_a_silent_server,
            bounds::the_read_timeout_bounds_every_head,
            bounds::an_upload_nobody_reads_ends_on_the_idle_bound,
            bounds::an_error_head_with_a_stalled_body_is_still_an_api_error,
            bounds::a_stalled_or_trickled_json_answer_ends_in_time,
            bounds::an_endless_json_answer_stops_at_the_limit,
            bounds::keepalives_do_not_stretch_a_deadline,
            bounds::an_endless_event_is_cut_at_its_cap,
            bounds::error_events_and_cut_streams_are_errors,
            bounds::an_enormous_retry_after_is_not_waited_for,
        );
    };
}

mod async_client {
    bounds_for!(seclai::Client);
}

mod blocking_client {
    bounds_for!(seclai_blocking::Client);
}
