//! The behaviour suite for both clients (the functions are in
//! `seclai_tests::suite`; what only one client has is in
//! `async_client.rs` and `blocking_client.rs`).

macro_rules! suite_for {
    ($client:ty) => {
        seclai_tests::for_client!($client;
            requests::api_key_version_and_user_agent_are_sent,
            requests::bearer_token_sends_account_id_and_api_key_does_not,
            requests::custom_api_key_header,
            requests::token_provider_is_called_per_request,
            requests::credential_rules,
            requests::version_header_pinned_omitted_and_guarded,
            requests::error_bodies_of_every_shape,
            requests::decode_errors_name_the_path,
            requests::path_segments_arrive_intact,
            requests::query_parameters_and_base_prefix,
            requests::integer_inputs_take_any_integer_and_are_range_checked,
            requests::raw_request_answers,
            requests::metadata_comes_with_the_value,
            requests::update_api_version_pins_clears_and_guards,
            requests::one_span_per_call_with_its_outcome,
            requests::header_injection_is_refused_before_sending,
            requests::a_failed_tls_handshake_is_a_tls_error_and_is_not_retried,
            requests::malformed_base_urls_are_config_errors,
            requests::secrets_never_printed,
            requests::webhook_payloads_parse_and_keep_unknowns,
            retries::retry_after_429_is_honoured_for_post,
            retries::get_503_is_retried_and_post_503_is_not,
            retries::retry_budget_and_retry_after_cap,
            retries::retry_rules_by_status_and_method,
            retries::timeouts_are_typed_and_retried_for_idempotent_methods_only,
            retries::transport_failures_are_typed_and_retried_when_safe,
            runs::a_streamed_run_delivers_every_event_in_order,
            runs::any_chunking_and_line_ending_gives_the_same_events,
            runs::unknown_garbage_and_oversize_lines_do_not_stop_the_stream,
            runs::a_cut_stream_ends_with_a_typed_error_and_wait_recovers_by_polling,
            runs::malformed_done_is_recovered_by_polling,
            runs::an_error_event_then_a_failed_run_is_reported_as_failed,
            runs::a_silent_server_hits_the_idle_timeout_then_polls,
            runs::payment_and_validation_errors_are_the_calls_own,
            runs::a_json_answer_instead_of_a_stream_is_handled,
            runs::run_and_poll_waits_for_a_terminal_status_and_has_a_deadline,
            runs::waiting_for_an_input_upload,
            runs::final_run_drains_to_done,
            transfers::uploads_stream_a_file_with_fields_and_progress,
            transfers::a_path_upload_is_sent_again_after_a_429_and_a_one_shot_reader_is_not,
            transfers::an_upload_whose_answer_stalls_ends_on_the_read_timeout,
            transfers::bad_uploads_fail_before_sending,
            transfers::a_reader_failing_halfway_is_an_error_and_not_retried,
            transfers::downloads_stream_to_a_file_atomically,
            transfers::a_cut_download_leaves_nothing_behind,
            transfers::a_slow_download_outlives_the_overall_timeout_and_a_silent_one_times_out,
            paging::paginate_walks_every_page,
            paging::paginate_stops_on_repeats_and_servers_that_ignore_limit,
            paging::raw_paginate_reads_declared_envelopes,
            paging::paginate_reports_errors_as_items,
        );
    };
}

mod async_client {
    suite_for!(seclai::Client);
}

mod blocking_client {
    suite_for!(seclai_blocking::Client);
}
